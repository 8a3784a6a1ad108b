"""855 PO acknowledgment mapping: golden files, round trip, validation, and the BAK/PO1/CTP/ACK/CTT
rules of amazon-x12.md section 4."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from gateway.erp import PoAcknowledgment
from gateway.errors import MappingError
from gateway.mapping import render, ts855
from gateway.validation import validate
from gateway.x12 import Segment, Transaction, build_transaction, parse
from tests.goldens import (
    AMAZON,
    GOLDEN,
    VENDOR,
    WHEN,
    golden_names,
    load_document,
    render_golden,
)

NAMES = golden_names("855")


def transaction_of(data: bytes) -> Transaction:
    """The one transaction set of a rendered interchange."""
    return parse(data).interchanges[0].groups[0].transactions[0]


def acknowledgment(*lines: dict[str, Any], **header: Any) -> PoAcknowledgment:
    """A small acknowledgment for behaviour tests (PO 7QX3KD9M of 2025-03-10)."""
    data = {"type": "po_acknowledgment", "po_number": "7QX3KD9M", "po_date": "2025-03-10"}
    return PoAcknowledgment.model_validate({**data, **header, "lines": list(lines)})


def line(line_id: str, ordered: str, *statuses: dict[str, Any], unit: str = "EA") -> dict[str, Any]:
    """A PO line of the 20 oz tumbler (UPC 850001234016, ASIN B0C7K2Q9XA) at 12.49."""
    return {
        "line_id": line_id, "ordered_quantity": ordered, "unit": unit, "unit_cost": "12.49",
        "price_basis": "PE",
        "product_ids": [{"kind": "upc", "value": "850001234016"},
                        {"kind": "asin", "value": "B0C7K2Q9XA"}],
        "statuses": list(statuses),
    }  # fmt: skip


def status(kind: str, quantity: str, unit: str = "EA", **more: Any) -> dict[str, Any]:
    return {"status": kind, "quantity": quantity, "unit": unit, **more}


def body_of(document: PoAcknowledgment) -> list[Segment]:
    return ts855.from_erp(document)


def tags(segments: list[Segment], tag: str) -> list[Segment]:
    return [seg for seg in segments if seg.tag == tag]


# ----------------------------------------------------------------------------- golden files


def test_there_are_golden_acknowledgments_for_every_case() -> None:
    """At least 11 golden 855 exports, each with its expected interchange."""
    assert len(NAMES) >= 11
    for name in NAMES:
        assert (GOLDEN / "855" / f"{name}.edi").is_file(), name





# ----------------------------------------------------------------------------- BAK


def test_bak02_is_ad_when_every_line_is_accepted_in_full() -> None:
    """AD: one 'accepted' status per line for the whole ordered quantity."""
    document = acknowledgment(
        line("1", "24", status("accepted", "24")), line("2", "6", status("accepted", "6"))
    )
    assert body_of(document)[0] == Segment("BAK", ("00", "AD", "7QX3KD9M", "20250310"))


@pytest.mark.parametrize(
    "statuses",
    [
        [status("accepted", "20")],  # less than ordered
        [status("accepted", "12"), status("accepted", "12")],  # split, even if all accepted
        [status("accepted", "20"), status("backordered", "4")],
        [status("backordered", "24")],
        [status("accepted", "2", "CA")],  # another unit
        [status("rejected", "24", rejection_reason="obsolete_product")],
    ],
)
def test_bak02_is_ac_when_any_line_is_changed(statuses: list[dict[str, Any]]) -> None:
    """AC as soon as one line is not a single full acceptance."""
    document = acknowledgment(line("1", "6", status("accepted", "6")), line("2", "24", *statuses))
    assert body_of(document)[0].elements[:2] == ("00", "AC")


def test_bak08_carries_the_seller_order_number_and_n1_st_the_ship_to() -> None:
    """BAK08 (BAK05-07 empty) and N1*ST before the first PO1."""
    document = acknowledgment(
        line("1", "24", status("accepted", "24")),
        seller_order_number="SO-2025-118204",
        ship_to={"qualifier": "92", "code": "CMH1"},
    )
    body = body_of(document)
    assert body[0] == Segment(
        "BAK", ("00", "AD", "7QX3KD9M", "20250310", "", "", "", "SO-2025-118204")
    )
    assert body[1] == Segment("N1", ("ST", "", "92", "CMH1"))
    assert body[2].tag == "PO1"


# ----------------------------------------------------------------------------- PO1, CTP, ACK


def test_po1_echoes_the_line_and_ctp_states_the_net_cost_before_the_acks() -> None:
    """PO101-PO105, identifiers in order, then CTP**NET (PO1 loop position 040) and ACK (270)."""
    body = body_of(acknowledgment(line("00010", "24", status("accepted", "24"))))
    assert [seg.tag for seg in body] == ["BAK", "PO1", "CTP", "ACK", "CTT"]
    assert body[1] == Segment(
        "PO1", ("00010", "24", "EA", "12.49", "PE", "UP", "850001234016", "BP", "B0C7K2Q9XA")
    )
    assert body[2] == Segment("CTP", ("", "NET", "12.49"))


def test_ack_dates_ship_068_and_delivery_067() -> None:
    """ACK04/ACK05: 068 scheduled ship, 067 scheduled delivery; no date, no ACK04/05."""
    document = acknowledgment(
        line(
            "1", "48",
            status("accepted", "30", scheduled_date="2025-03-14"),
            status("backordered", "10", scheduled_date="2025-03-25",
                   scheduled_date_kind="delivery"),
            status("backordered", "8"),
        )
    )  # fmt: skip
    assert tags(body_of(document), "ACK") == [
        Segment("ACK", ("IA", "30", "EA", "068", "20250314")),
        Segment("ACK", ("IB", "10", "EA", "067", "20250325")),
        Segment("ACK", ("IB", "8", "EA")),
    ]


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("temporarily_unavailable", "TemporarilyUnavailable"),
        ("invalid_product_identifier", "InvalidProductIdentifier"),
        ("obsolete_product", "ObsoleteProduct"),
    ],
)
def test_rejection_reason_is_ack27_zz_and_ack29_with_the_rejected_quantity(
    reason: str, code: str
) -> None:
    """IR with the rejected quantity stated (ACK02/03), ACK27 ZZ, ACK28 empty (C2827), ACK29."""
    document = acknowledgment(line("1", "24", status("rejected", "24", rejection_reason=reason)))
    (ack,) = tags(body_of(document), "ACK")
    assert ack.elements[:3] == ("IR", "24", "EA")
    assert ack.elements[3:26] == ("",) * 23
    assert ack.elements[26:] == ("ZZ", "", code)
    assert validate(render_golden(document)).all_findings() == []


def test_every_status_gets_its_own_ack_in_order() -> None:
    """A partial acceptance: accepted + backordered + rejected remainder, in the ERP's order."""
    document = acknowledgment(
        line("1", "40", status("accepted", "25", scheduled_date="2025-03-14"),
             status("backordered", "10", scheduled_date="2025-04-04"),
             status("rejected", "5", rejection_reason="temporarily_unavailable")),
    )  # fmt: skip
    assert [ack.text(1) for ack in tags(body_of(document), "ACK")] == ["IA", "IB", "IR"]


# ----------------------------------------------------------------------------- CTT


def test_ctt_counts_po1_and_hashes_the_ordered_quantities() -> None:
    """CTT01 number of PO1, CTT02 sum of PO102 (not of the ACK quantities)."""
    document = acknowledgment(
        line("1", "24", status("accepted", "20"), status("rejected", "4",
             rejection_reason="temporarily_unavailable")),
        line("2", "10", status("accepted", "10"), unit="CA"),
        line("3", "2.5", status("accepted", "2.5")),
    )  # fmt: skip
    assert body_of(document)[-1] == Segment("CTT", ("3", "36.5"))


# ----------------------------------------------------------------------------- errors


def test_release_other_than_004010_is_refused() -> None:
    """The 855 is traded at 004010 only: from_erp and render refuse 005010."""
    document = load_document("855", "one_line")
    with pytest.raises(MappingError, match="004010 only"):
        ts855.from_erp(document, release="005010")
    with pytest.raises(MappingError, match="004010 only"):
        render(document, sender=VENDOR, receiver=AMAZON, interchange_control_number=1,
               group_control_number=1, when=WHEN, release="005010")  # fmt: skip


def golden_body(name: str = "partial_backorder") -> list[Segment]:
    return list(transaction_of(render_golden(load_document("855", name))).segments)


def replaced(body: list[Segment], old: Segment, new: Segment | None) -> Transaction:
    """The set with ``old`` replaced by ``new`` (removed when None)."""
    index = body.index(old)
    segments = body[:index] + ([new] if new is not None else []) + body[index + 1 :]
    return build_transaction("855", 1, segments)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (Segment("ACK", ("IA", "24", "EA", "068", "20250314")),
         Segment("ACK", ("IQ", "24", "EA", "068", "20250314")), "ACK01 'IQ'"),
        (Segment("ACK", ("IA", "24", "EA", "068", "20250314")),
         Segment("ACK", ("IA", "24", "EA", "002", "20250314")), "ACK04 '002'"),
        (Segment("ACK", ("IA", "24", "EA", "068", "20250314")),
         Segment("ACK", ("IA", "24", "ea", "068", "20250314")), "ACK03 'ea'"),
        (Segment("ACK", ("IA", "24", "EA", "068", "20250314")),
         Segment("ACK", ("IA", "", "EA", "068", "20250314")), "ACK02 ''"),
        (Segment("ACK", ("IA", "24", "EA", "068", "20250314")),
         Segment("ACK", ("IA", "24", "EA", "068", "20251399")), "ACK05 '20251399'"),
        (Segment("CTP", ("", "NET", "12.49")), Segment("CTP", ("", "NET", "12.99")),
         "CTP03 '12.99' differs from PO104"),
        (Segment("CTP", ("", "NET", "12.49")), Segment("CTP", ("", "LPR", "19.99")), "CTP02 'LPR'"),
        (Segment("ACK", ("IA", "24", "EA", "068", "20250314")), None, "has no ACK"),
        (Segment("CTT", ("3", "74")), Segment("CTT", ("2", "74")), "CTT01 '2'"),
        (Segment("CTT", ("3", "74")), Segment("CTT", ("3", "70")), "CTT02 '70'"),
        (Segment("BAK", ("00", "AC", "4HT9WB7C", "20250309")),
         Segment("BAK", ("00", "AD", "4HT9WB7C", "20250309")), "BAK02 'AD'"),
    ],
)  # fmt: skip
def test_content_without_a_place_in_the_document_is_refused_naming_the_element(
    old: Segment, new: Segment | None, message: str
) -> None:
    """to_erp raises MappingError naming the element rather than guessing."""
    with pytest.raises(MappingError, match=message.replace("(", r"\(")):
        ts855.to_erp(replaced(golden_body(), old, new))


def test_a_heading_party_other_than_the_ship_to_is_refused() -> None:
    """Only N1*ST has a field in the document; N1*BY would be dropped, so it is refused."""
    body = golden_body("ship_to_and_seller_order")
    old = Segment("N1", ("ST", "AMAZON CMH1", "92", "CMH1"))
    with pytest.raises(MappingError, match="N101 'BY'"):
        ts855.to_erp(replaced(body, old, Segment("N1", ("BY", "AMAZON", "92", "AMZN"))))
    twice = [*body[:2], old, *body[2:]]
    with pytest.raises(MappingError, match=r"N1\*ST appears twice"):
        ts855.to_erp(build_transaction("855", 1, twice))


def test_an_unknown_rejection_reason_is_refused() -> None:
    """ACK29 must be one of Amazon's three reasons, with ACK27 ZZ."""
    body = golden_body()
    old = next(seg for seg in body if seg.text(1) == "IR")
    new = Segment("ACK", (*old.elements[:26], "ZZ", "", "Discontinued"))
    with pytest.raises(MappingError, match="ACK27-29"):
        ts855.to_erp(replaced(body, old, new))


def test_an_unknown_product_id_qualifier_is_refused() -> None:
    """A PO106 qualifier without an ERP kind names the PO1."""
    body = golden_body("one_line")
    old = body[1]
    new = Segment("PO1", (*old.elements[:5], "ZZ", "X1"))
    with pytest.raises(MappingError, match=r"PO1 '1'.*'ZZ'"):
        ts855.to_erp(replaced(body, old, new))


def test_a_set_that_is_not_an_855_is_refused() -> None:
    with pytest.raises(MappingError, match="not an 855"):
        ts855.to_erp(build_transaction("810", 1, golden_body()))


def test_ship_to_and_dates_read_back() -> None:
    """N1*ST and the ACK dates come back as the model's fields."""
    document = load_document("855", "ship_to_and_seller_order")
    back = ts855.to_erp(transaction_of(render_golden(document)))
    assert back.ship_to is not None and back.ship_to.code == "CMH1"
    assert back.seller_order_number == "SO-2025-118204"
    assert back.lines[1].statuses[1].scheduled_date == date(2025, 3, 28)
    assert back.lines[0].unit_cost == Decimal("12.49")
