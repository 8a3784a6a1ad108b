"""The simulated Amazon's checks of what the vendor sends (gateway.sandbox.checks).

Acceptance (issue 8): the simulated Amazon rejects an 855 missing a line, an 856 with a bad
SSCC check digit and an 810 whose total is off by a cent, each with a 997 naming the error.
Every 997 here is parsed back and its segments asserted; every one must pass our 997 map.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from bench.corpus import MUTANTS
from gateway.erp import (
    AcknowledgedLine,
    LineStatus,
    PoAcknowledgment,
    Problem,
    PurchaseOrder,
    parse_document,
)
from gateway.mapping import render
from gateway.mapping.ts855 import from_erp as ts855_body
from gateway.sandbox.checks import (
    NOT_MAPPABLE,
    PLACES,
    UNKNOWN_PURCHASE_ORDER,
    Verdict,
    business_problems,
    check_interchange,
    finding_for,
)
from gateway.validation import acknowledge, validate
from gateway.x12 import (
    build_group,
    build_interchange,
    build_transaction,
    parse,
    serialize,
)
from tests.conftest import REPO
from tests.goldens import AMAZON, GOLDEN, VENDOR

#: The chain: the golden 850 ``ne_three_lines`` (PO 7QX3KD9M), an 855 accepting it in full
#: (built from the PO: no golden 855 answers this PO), and the golden 856
#: ``parcel_one_po_one_carton`` and 810 ``allowance_discount``, which answer the same PO.
WHEN = datetime(2025, 3, 15, 9, 0)
AMAZON_ISA = ("ZZ", "AMAZON")
VENDOR_ISA = ("ZZ", "ACMEVENDOR")
GOOD_SSCC = b"00008500012340010015"
BAD_SSCC = b"00008500012340010016"  # GS1 mod 10 wants 5


def _purchase_order() -> PurchaseOrder:
    (data,) = json.loads((GOLDEN / "850" / "ne_three_lines.json").read_text())
    return parse_document(data)


PO = _purchase_order()


def _acknowledgment(po: PurchaseOrder = PO) -> PoAcknowledgment:
    """An 855 accepting every line of ``po`` in full at the PO's cost."""
    lines = [
        AcknowledgedLine(
            line_id=line.line_id, ordered_quantity=line.quantity, unit=line.unit,
            unit_cost=line.unit_price, price_basis=line.price_basis,
            product_ids=line.product_ids,
            statuses=[LineStatus(status="accepted", quantity=line.quantity, unit=line.unit,
                                 scheduled_date=date(2025, 3, 18))],
        )
        for line in po.lines
    ]  # fmt: skip
    return PoAcknowledgment(po_number=po.po_number, po_date=po.po_date, lines=lines)


def _rendered(document: Any) -> bytes:
    interchange = render(document, sender=VENDOR, receiver=AMAZON, interchange_control_number=1,
                         group_control_number=1, when=WHEN)  # fmt: skip
    return serialize(interchange)


def _golden(set_id: str, name: str) -> bytes:
    return (GOLDEN / set_id / f"{name}.edi").read_bytes()


def _check(data: bytes, **options: Any) -> Verdict:
    options.setdefault("purchase_orders", {PO.po_number: PO})
    options.setdefault("sender", AMAZON_ISA)
    options.setdefault("receiver", VENDOR_ISA)
    options.setdefault("group_control_number", 800)
    verdict = check_interchange(data, interchange_control_number=700, when=WHEN, **options)
    if verdict.ack:
        # Every answer the simulated Amazon sends must pass our own 997 map.
        assert validate(verdict.ack).all_findings() == []
    return verdict


def _segments(ack: bytes) -> list[str]:
    """The segments of every 997 in ``ack`` between ST and SE, as ``AK3*CTT*9**8``."""
    out = []
    for isa in parse(ack).interchanges:
        for group in isa.groups:
            for txn in group.transactions:
                out += [
                    "*".join([seg.tag, *(seg.text(i) for i in range(1, len(seg.elements) + 1))])
                    for seg in txn.segments
                ]
    return out


# -- a right chain ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("set_id", "data", "functional_id"),
    [
        ("855", _rendered(_acknowledgment()), "PR"),
        ("856", _golden("856", "parcel_one_po_one_carton"), "SH"),
        ("810", _golden("810", "allowance_discount"), "IN"),
    ],
)
def test_a_right_chain_is_accepted_with_ak5_a_and_ak9_a(
    set_id: str, data: bytes, functional_id: str
) -> None:
    """The 855/856/810 answering the PO Amazon sent, right in every business rule, get a 997
    accepting the set and the group; the ERP document is handed back, no problem listed."""
    verdict = _check(data, acknowledgments={PO.po_number: _acknowledgment()})
    assert verdict.problems == []
    assert [d.po_number if set_id != "856" else d.orders[0].po_number
            for d in verdict.documents] == [PO.po_number]  # fmt: skip
    assert _segments(verdict.ack) == [
        f"AK1*{functional_id}*1", f"AK2*{set_id}*0001", "AK5*A", "AK9*A*1*1*1",
    ]  # fmt: skip
    (isa,) = parse(verdict.ack).interchanges
    assert isa.sender == AMAZON_ISA and isa.receiver == VENDOR_ISA
    assert isa.control_number == "000000700" and isa.groups[0].control_number == "800"
    assert isa.groups[0].version == "004010" and isa.groups[0].functional_id == "FA"


def test_warnings_alone_leave_the_set_accepted() -> None:
    """The golden 856 states PO date 2025-03-06 where the PO says 2025-03-10: a warning of the
    rules, which does not reach the 997 (AK5 A, no AK3)."""
    data = _golden("856", "parcel_one_po_one_carton")
    (txn,) = parse(data).interchanges[0].groups[0].transactions
    _, found = business_problems(txn, {PO.po_number: PO}, today=WHEN.date())
    assert [(p.code, p.severity) for p in found] == [("po_date_mismatch", "warning")]
    verdict = _check(data)
    assert "AK5*A" in _segments(verdict.ack) and verdict.problems == []


def test_one_interchange_with_three_groups_gets_one_997_per_group() -> None:
    """855, 856 and 810 in one interchange (three groups): one answer interchange holding a
    997 group per received group, GS06 counting up from the given group control number."""
    trees = [parse(_rendered(_acknowledgment())), parse(_golden("856", "parcel_one_po_one_carton")),
             parse(_golden("810", "allowance_discount"))]  # fmt: skip
    groups = []
    for number, tree in enumerate(trees, start=1):
        group = tree.interchanges[0].groups[0]
        groups.append(build_group(
            functional_id=group.functional_id, application_sender="ACMEVENDOR",
            application_receiver="AMAZON", control_number=number, version="004010",
            transactions=list(group.transactions), when=WHEN,
        ))  # fmt: skip
    data = serialize(build_interchange(sender=VENDOR, receiver=AMAZON, control_number=9,
                                       groups=groups, when=WHEN))  # fmt: skip
    verdict = _check(data, acknowledgments={PO.po_number: _acknowledgment()})
    (isa,) = parse(verdict.ack).interchanges
    assert [g.control_number for g in isa.groups] == ["800", "801", "802"]
    assert [s for s in _segments(verdict.ack) if s.startswith(("AK1", "AK9"))] == [
        "AK1*PR*1", "AK9*A*1*1*1", "AK1*SH*2", "AK9*A*1*1*1", "AK1*IN*3", "AK9*A*1*1*1",
    ]  # fmt: skip
    assert len(verdict.documents) == 3


# -- the three acceptance rejections ---------------------------------------------------------


def test_an_855_missing_a_line_is_rejected_at_ctt01() -> None:
    """PO line 3 left out of the 855: AK3 at the CTT (position 9: ST, BAK, two PO1/CTP/ACK
    loops), AK4 CTT01 (element 354) code 7 with the 2 lines it counts; AK5 R 5, AK9 R."""
    ack = _acknowledgment()
    short = ack.model_copy(update={"lines": ack.lines[:2]})
    verdict = _check(_rendered(short))
    assert _segments(verdict.ack) == [
        "AK1*PR*1", "AK2*855*0001", "AK3*CTT*9**8", "AK4*1*354*7*2", "AK5*R*5", "AK9*R*1*1*0",
    ]  # fmt: skip
    ((set_id, st02, problem),) = verdict.problems
    assert (set_id, st02, problem.code) == ("855", "0001", "missing_line")
    assert "line 3" in problem.message
    assert verdict.documents == [] and not verdict.accepted


def test_an_856_with_a_bad_sscc_check_digit_is_rejected_at_man02() -> None:
    """The carton's SSCC with a wrong GS1 check digit: AK3 MAN at position 16, AK4 element 2
    (MAN02, data element 87), code 7, AK404 the SSCC as sent."""
    data = _golden("856", "parcel_one_po_one_carton").replace(GOOD_SSCC, BAD_SSCC)
    verdict = _check(data)
    assert _segments(verdict.ack) == [
        "AK1*SH*1", "AK2*856*0001", "AK3*MAN*16**8", f"AK4*2*87*7*{BAD_SSCC.decode()}",
        "AK5*R*5", "AK9*R*1*1*0",
    ]  # fmt: skip
    assert [p.code for _, _, p in verdict.problems] == ["check_digit"]


def test_an_810_whose_total_is_a_cent_off_is_rejected_at_tds01() -> None:
    """TDS01 64626 where the lines less the allowance make 646.27: AK3 TDS (position 17),
    AK4 TDS01 (data element 610) code 7 with the amount sent."""
    data = _golden("810", "allowance_discount").replace(b"TDS*64627~", b"TDS*64626~")
    verdict = _check(data)
    assert _segments(verdict.ack) == [
        "AK1*IN*1", "AK2*810*0001", "AK3*TDS*17**8", "AK4*1*610*7*64626", "AK5*R*5",
        "AK9*R*1*1*0",
    ]  # fmt: skip
    ((_, _, problem),) = verdict.problems
    assert problem.code == "total_mismatch" and "646.27" in problem.message


# -- other business errors -------------------------------------------------------------------


def test_an_855_for_a_po_amazon_never_sent_is_rejected_at_bak03() -> None:
    """An 855 answering PO 7QX3KD9M when Amazon sent no such PO: AK3 BAK, AK4 BAK03 (324)
    code 7 with the PO number."""
    verdict = _check(_rendered(_acknowledgment()), purchase_orders={})
    assert _segments(verdict.ack) == [
        "AK1*PR*1", "AK2*855*0001", "AK3*BAK*2**8", "AK4*3*324*7*7QX3KD9M", "AK5*R*5",
        "AK9*R*1*1*0",
    ]  # fmt: skip
    assert [p.code for _, _, p in verdict.problems] == [UNKNOWN_PURCHASE_ORDER]


def test_an_856_for_a_po_amazon_never_sent_is_rejected_at_prf01() -> None:
    """In an ASN the PO number travels in the order level's PRF01 (position 14)."""
    verdict = _check(_golden("856", "parcel_one_po_one_carton"), purchase_orders={})
    assert "AK3*PRF*14**8" in _segments(verdict.ack)
    assert "AK4*1*324*7*7QX3KD9M" in _segments(verdict.ack)


def test_a_product_id_not_echoed_is_named_at_its_pair() -> None:
    """Line 2's ASIN (second identifier pair: PO108/PO109) changed: AK3 at line 2's PO1
    (position 6), AK4 element 9 (234) with the value sent."""
    ack = _acknowledgment()
    line = ack.lines[1]
    ids = [line.product_ids[0], line.product_ids[1].model_copy(update={"value": "B000000000"}),
           *line.product_ids[2:]]  # fmt: skip
    lines = [ack.lines[0], line.model_copy(update={"product_ids": ids}), ack.lines[2]]
    verdict = _check(_rendered(ack.model_copy(update={"lines": lines})))
    assert _segments(verdict.ack)[2:4] == ["AK3*PO1*6**8", "AK4*9*234*7*B000000000"]


def test_an_invoice_dated_after_today_is_an_invalid_date_in_big01() -> None:
    """A date rule answers AK403 8 (invalid date): the invoice dated 2025-03-15 checked on
    2025-03-14."""
    verdict = _check(_golden("810", "allowance_discount"), today=date(2025, 3, 14))
    assert _segments(verdict.ack)[2:4] == ["AK3*BIG*2**8", "AK4*1*373*8*20250315"]


def test_one_bad_set_of_two_makes_the_group_partially_accepted() -> None:
    """Two 855s in one group, the second missing a line: AK5 A then AK5 R, AK9 P 2 2 1."""
    po2 = PO.model_copy(update={"po_number": "7QX3KD9N"})
    good, bad = _acknowledgment(), _acknowledgment(po2)
    bad = bad.model_copy(update={"lines": bad.lines[1:]})
    sets = [build_transaction("855", n, ts855_body(doc)) for n, doc in ((1, good), (2, bad))]
    group = build_group(functional_id="PR", application_sender="ACMEVENDOR",
                        application_receiver="AMAZON", control_number=5, version="004010",
                        transactions=sets, when=WHEN)  # fmt: skip
    data = serialize(build_interchange(sender=VENDOR, receiver=AMAZON, control_number=5,
                                       groups=[group], when=WHEN))  # fmt: skip
    verdict = _check(data, purchase_orders={PO.po_number: PO, po2.po_number: po2})
    segments = _segments(verdict.ack)
    assert [s for s in segments if s.startswith(("AK2", "AK5", "AK9"))] == [
        "AK2*855*0001", "AK5*A", "AK2*855*0002", "AK5*R*5", "AK9*P*2*2*1",
    ]  # fmt: skip
    assert [d.po_number for d in verdict.documents] == [PO.po_number]
    assert [(s, c) for s, c, _ in verdict.problems] == [("855", "0002")]


# -- placing problems ------------------------------------------------------------------------


def _transaction(data: bytes) -> Any:
    return parse(data).interchanges[0].groups[0].transactions[0]


def test_a_problem_with_no_place_goes_to_the_first_segment_after_st() -> None:
    """An unexpected problem (unknown path, index out of range, not a JSON path) is reported
    on the set's first segment after ST with AK304 8 and no element; nothing raises."""
    txn = _transaction(_rendered(_acknowledgment()))
    for path in ("$.nonsense", "$.lines[9].unit", "lines", "", "$.lines[0].no_such_field"):
        finding = finding_for(txn, Problem(path, "something Amazon dislikes", "made_up"))
        assert (finding.level, finding.code, finding.segment, finding.position) == (
            "segment", "8", "BAK", 2,
        ), path  # fmt: skip
        assert finding.element is None


def test_a_field_whose_segment_is_absent_is_a_missing_segment() -> None:
    """A freight ASN needs REF*BM; the parcel golden has none: AK304 3 (mandatory segment
    missing) for REF, reported at the shipment level's HL (position 3)."""
    txn = _transaction(_golden("856", "parcel_one_po_one_carton"))
    finding = finding_for(txn, Problem("$.bill_of_lading", "needed", "bill_of_lading_missing"))
    assert (finding.level, finding.code, finding.segment, finding.position) == (
        "segment", "3", "REF", 3,
    )  # fmt: skip


def test_pallet_cartons_and_items_are_found_in_the_hl_tree() -> None:
    """Paths through pallets reach the right HL levels: the pallet's MAN, a carton's MAN on
    the pallet, an item's SN1."""
    data = _golden("856", "ltl_pallets_mixed_loose")
    txn = _transaction(data)
    segments = list(enumerate(txn.segments, start=2))
    mans = [(p, s.text(2)) for p, s in segments if s.tag == "MAN"]
    notice = parse_document((GOLDEN / "856" / "ltl_pallets_mixed_loose.json").read_text())
    pallet = notice.orders[0].pallets[0]
    expected = [(pallet.sscc, "$.orders[0].pallets[0].sscc"),
                (pallet.cartons[0].sscc, "$.orders[0].pallets[0].cartons[0].sscc"),
                (notice.orders[0].cartons[0].sscc, "$.orders[0].cartons[0].sscc")]  # fmt: skip
    for sscc, path in expected:
        finding = finding_for(txn, Problem(path, "bad", "check_digit"))
        assert (finding.segment, finding.bad_value) == ("MAN", sscc)
        assert (finding.position, sscc) in mans
    item = notice.orders[0].cartons[0].items[0]
    finding = finding_for(txn, Problem("$.orders[0].cartons[0].items[0].quantity", "x", "y"))
    assert (finding.segment, finding.element, finding.element_ref) == ("SN1", 2, "382")
    assert Decimal(finding.bad_value or "") == item.quantity


def test_a_set_the_mapping_cannot_read_is_rejected_at_the_element_it_names() -> None:
    """CTT01 2 under three PO1 loops passes the map but not the mapping: rejected, named at
    CTT01 with what was sent."""
    data = _rendered(_acknowledgment()).replace(b"CTT*3*", b"CTT*2*")
    verdict = _check(data)
    assert _segments(verdict.ack)[2:4] == ["AK3*CTT*12**8", "AK4*1**7*2"]
    assert [p.code for _, _, p in verdict.problems] == [NOT_MAPPABLE]


_MAPS = {"855": "855.4010.xml", "856": "856.4010.xml", "810": "810.4010.xml"}


def _data_element(map_file: str, segment: str, element: int) -> str | None:
    root = ET.parse(REPO / "maps" / map_file).getroot()
    for seg in root.iter("segment"):
        if seg.get("xid") == segment:
            for ele in seg.iter("element"):
                if ele.get("xid") == f"{segment}{element:02d}":
                    return ele.findtext("data_ele")
    return None


def test_the_places_name_the_data_elements_of_the_maps() -> None:
    """Every AK402 in PLACES is the data element number our map gives that element (and, for
    identifier pairs, the next pair too)."""
    for kind, places in PLACES.items():
        for field, place in places.items():
            map_file = _MAPS[kind.split()[0]]
            elements = [place.element, place.element + 2] if place.pairs else [place.element]
            for element in elements:
                assert _data_element(map_file, place.segment, element) == place.element_ref, (
                    kind, field, element,
                )  # fmt: skip


# -- what the maps reject --------------------------------------------------------------------


def _validator_answer(data: bytes) -> bytes:
    """What gateway.validation.acknowledge answers, ISA13 and GS06 700."""
    (isa,) = validate(data).interchanges
    return b"".join(serialize(a) for a in acknowledge(isa, next_control_number=700, when=WHEN))


def _as_validator(data: bytes) -> Verdict:
    """check_interchange with the validator's parties (the inbound ones swapped) and
    numbers, so that its answer can be compared byte for byte."""
    (isa,) = parse(data).interchanges
    return _check(data, sender=isa.receiver, receiver=isa.sender, group_control_number=700)


def test_an_855_with_a_bad_se01_gets_the_validators_997() -> None:
    """SE01 wrong: AK5 R 4 exactly as the validator answers it; no business check runs."""
    data = re.sub(rb"SE\*\d+\*0001", b"SE*99*0001", _rendered(_acknowledgment()))
    assert b"SE*99*0001" in data
    verdict = _as_validator(data)
    assert _segments(verdict.ack) == ["AK1*PR*1", "AK2*855*0001", "AK5*R*4", "AK9*R*1*1*0"]
    assert verdict.ack == _validator_answer(data)
    assert verdict.problems == [] and verdict.documents == []


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_a_mutant_gets_the_validators_997(mutant: Any) -> None:
    """Every broken interchange of bench.corpus (an 850 broken one way) is answered exactly as
    the validator answers it, with the expected code in AK3/AK4/AK5; nothing raises."""
    text = _golden("850", "ne_three_lines").decode("ascii")
    data = mutant.mutate(text).encode("ascii")
    verdict = _as_validator(data)
    assert verdict.ack == _validator_answer(data)
    segments = _segments(verdict.ack)
    expected = mutant.expected
    if expected.level == "transaction":
        assert f"AK5*R*{expected.code}" in segments
    else:
        assert any(s.startswith(f"AK3*{expected.segment}*") for s in segments)
        assert "AK5*R*5" in segments


def test_an_envelope_error_is_answered_with_a_ta1() -> None:
    """IEA02 not ISA13: the interchange is rejected with a TA1 (R, 001), from Amazon."""
    data = _rendered(_acknowledgment()).replace(b"IEA*1*000000001", b"IEA*1*000000002")
    verdict = _check(data)
    (isa,) = parse(verdict.ack).interchanges
    (ta1,) = isa.service_segments
    assert (ta1.tag, ta1.text(1), ta1.text(4), ta1.text(5)) == ("TA1", "000000001", "R", "001")
    assert isa.sender == AMAZON_ISA and isa.groups == ()


def test_input_that_is_not_x12_gets_no_answer() -> None:
    """No ISA, nothing to address an answer to: ``ack`` is empty, the report says why."""
    verdict = _check(b"%PDF-1.7 definitely not X12")
    assert verdict.ack == b""
    assert verdict.report.findings and not verdict.accepted


def test_no_cut_of_an_interchange_makes_the_check_raise() -> None:
    """Truncated anywhere, an 855 is answered (or, without an ISA, not) and never raises."""
    data = _rendered(_acknowledgment())
    for cut in range(0, len(data), 23):
        verdict = _check(data[:cut])
        if verdict.ack:
            assert parse(verdict.ack).interchanges
