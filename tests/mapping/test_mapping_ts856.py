"""856 Ship Notice: ShipNotice exports -> X12 at 004010 and 005010, and back.

Contract (issue 3): every golden export in ``sandbox_fixtures/golden/856`` renders byte for
byte to its ``.edi`` (a name ending in ``_5010`` at 005010); the X12 reads back to the same
document; every rendering, at both releases, is accepted by the maps with no finding; the
HL tree is numbered 1.. with HL02 parent links; CTT counts HL segments and sums SN102;
what cannot be mapped is a MappingError naming the element.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest

from bench.corpus import gs1_check_digit
from gateway.erp import Carrier, ShipNotice, parse_document
from gateway.errors import ErpDocumentError, MappingError
from gateway.mapping import ts856
from gateway.validation import validate
from gateway.x12 import Segment, Transaction, build_transaction, parse
from tests.goldens import GOLDEN, golden_names, load_document, release_of, render_golden

NAMES = golden_names("856")
RELEASES = ("004010", "005010")
#: The golden used for the explicit hierarchy checks: one order with two pallets (one with
#: an SSCC, one without) and a loose carton.
PALLETS = "ltl_pallets_mixed_loose"


def _transaction(document: ShipNotice, release: str = "004010") -> Transaction:
    """The 856 of ``document`` as the codec reads it back from the rendered bytes."""
    (interchange,) = parse(render_golden(document, release)).interchanges
    return interchange.groups[0].transactions[0]


def _body(name: str) -> list[Segment]:
    return list(_transaction(load_document("856", name), release_of(name)).segments)


def _edit(name: str, edit) -> Transaction:  # type: ignore[no-untyped-def]
    """The golden's set with its body passed through ``edit`` (a list -> list function)."""
    return build_transaction("856", 1, edit(_body(name)))


def _replace(body: list[Segment], old: Segment, new: Segment | None) -> list[Segment]:
    index = body.index(old)
    return body[:index] + ([new] if new is not None else []) + body[index + 1 :]


# -- the golden files --------------------------------------------------------------------------


def test_golden_set_covers_both_releases() -> None:
    """At least 12 golden exports: 4 or more rendered at 005010, 6 or more at 004010."""
    assert len(NAMES) >= 12
    assert sum(release_of(n) == "005010" for n in NAMES) >= 4
    assert sum(release_of(n) == "004010" for n in NAMES) >= 6






def test_the_two_releases_differ_only_in_the_envelope() -> None:
    """The 4010 and 5010 maps differ only in elements the mapping does not write (MEA11-12,
    N407), so the body between ST and SE is the same at both releases."""
    for name in NAMES:
        document = load_document("856", name)
        assert ts856.from_erp(document, release="004010") == ts856.from_erp(
            document, release="005010"
        )


def _golden_data(set_id: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((GOLDEN / set_id).glob("*.json"))]


def _walk(value, key: str):  # type: ignore[no-untyped-def]
    """Every value of ``key`` anywhere in a decoded JSON document."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                yield v
            yield from _walk(v, key)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v, key)


def test_golden_identifiers_have_valid_check_digits() -> None:
    """SSCCs, UPCs, EANs and GTIN-14s in the goldens carry valid GS1 check digits; SSCCs
    are written with the 00 application identifier in all but one file (18 digits there)."""
    with_ai, bare = set(), set()
    for name, data in zip(NAMES, _golden_data("856"), strict=True):
        for sscc in _walk(data, "sscc"):
            digits = sscc[2:] if len(sscc) == 20 else sscc
            assert len(digits) == 18 and gs1_check_digit(digits[:-1]) == digits[-1], sscc
            (with_ai if len(sscc) == 20 else bare).add(name)
    assert bare == {"sscc_18_digits"}
    assert with_ai == set(NAMES) - bare
    lengths = {"upc": 12, "ean": 13, "gtin14": 14}
    for data in _golden_data("856") + _golden_data("846"):
        for ids in _walk(data, "product_ids"):
            for product in ids:
                if product["kind"] in lengths:
                    value = product["value"]
                    assert len(value) == lengths[product["kind"]], value
                    assert gs1_check_digit(value[:-1]) == value[-1], value


# -- the layout ------------------------------------------------------------------------------


def test_hierarchy_numbers_levels_and_links_parents_on_a_pallet_shipment() -> None:
    """HL01 runs 1..n; HL02 names the parent (order under shipment, pallet under order,
    carton under its pallet or, when loose, under the order, item under carton); HL03 is the
    level and HL04 says whether it has children."""
    hls = [s.elements for s in _body(PALLETS) if s.tag == "HL"]
    assert hls == [
        ("1", "", "S", "1"),
        ("2", "1", "O", "1"),
        ("3", "2", "T", "1"),  # pallet with an SSCC
        ("4", "3", "P", "1"),
        ("5", "4", "I", "0"),
        ("6", "3", "P", "1"),
        ("7", "6", "I", "0"),
        ("8", "2", "T", "1"),  # pallet without an SSCC
        ("9", "8", "P", "1"),
        ("10", "9", "I", "0"),
        ("11", "8", "P", "1"),
        ("12", "11", "I", "0"),
        ("13", "2", "P", "1"),  # loose carton, directly under the order
        ("14", "13", "I", "0"),
    ]


def test_pallet_sscc_is_written_only_when_present() -> None:
    """HL T carries MAN*GM with the pallet SSCC; a pallet without one has no MAN."""
    body = _body(PALLETS)
    after = {s.text(1): body[i + 1] for i, s in enumerate(body) if s.tag == "HL"}
    assert after["3"] == Segment("MAN", ("GM", "00008500012340030013"))
    assert after["8"].tag == "HL"
    assert after["13"] == Segment("MAN", ("GM", "00008500012340030068"))


def test_shipment_level_segments_in_map_order() -> None:
    """TD1 carton and pallet counts, TD5, REF BM/CN, DTM 011/017, N1 ST then N1 SF/N3/N4."""
    body = _body(PALLETS)
    assert body[0] == Segment("BSN", ("00", "ACME0000203", "20250311", "1645", "0001"))
    assert body[1:16] == [
        Segment("HL", ("1", "", "S", "1")),
        Segment("TD1", ("CTN25", "5", "", "", "", "G", "183.2", "LB")),
        Segment("TD1", ("PLT94", "2")),
        Segment("TD5", ("", "2", "ODFL", "LT")),
        Segment("REF", ("BM", "ACMEV00001203")),
        Segment("REF", ("CN", "0782310463")),
        Segment("DTM", ("011", "20250311")),
        Segment("DTM", ("017", "20250314")),
        Segment("N1", ("ST", "", "92", "ABE8")),
        Segment("N1", ("SF", "ACME HOUSEWARES INC")),
        Segment("N3", ("100 INDUSTRIAL WAY",)),
        Segment("N4", ("DAYTON", "OH", "45402", "US")),
        Segment("HL", ("2", "1", "O", "1")),
        Segment("PRF", ("4RT8NW2C", "", "", "20250304")),
        Segment("HL", ("3", "2", "T", "1")),
    ]


@pytest.mark.parametrize("name", NAMES)
def test_ctt_counts_hl_segments_and_sums_sn102(name: str) -> None:
    """CTT01 is the number of HL segments, CTT02 the sum of SN102; CTT ends the body."""
    body = _body(name)
    assert body[-1].tag == "CTT"
    hl_count = sum(s.tag == "HL" for s in body)
    units = sum(Decimal(s.text(2)) for s in body if s.tag == "SN1")
    assert body[-1].elements == (str(hl_count), str(units))


def test_ctt_of_the_large_shipment() -> None:
    """300 cartons on 10 pallets in 2 orders: 613 HL segments and 3600 units."""
    body = _body("truckload_300_cartons_5010")
    assert body[-1] == Segment("CTT", ("613", "3600"))
    assert sum(s.tag == "MAN" for s in body) == 310


def test_item_level_carries_lot_and_expiry() -> None:
    """LIN, SN1, then REF*LT and DTM*036 when the item has a lot and an expiry date."""
    body = _body("lot_expiry_kg")
    start = body.index(Segment("HL", ("7", "5", "I", "0")))
    assert body[start + 1 : start + 5] == [
        Segment("LIN", ("2", "UP", "850001234061", "BP", "B0BZ7T1R5M")),
        Segment("SN1", ("", "12", "EA")),
        Segment("REF", ("LT", "F24117")),
        Segment("DTM", ("036", "20261130")),
    ]
    assert Segment("TD1", ("CTN25", "2", "", "", "", "G", "14.75", "KG")) in body


def test_replace_collect_freight_and_weightless_shipments() -> None:
    """BSN01 05 for a replacement; REF*AO carries the ARN; without a gross weight TD1 has
    only the carton count; the ship-from id goes in N103/N104."""
    assert _body("replace_reduced_quantities")[0].text(1) == "05"
    collect = _body("collect_freight_arn")
    assert Segment("REF", ("AO", "3924571860")) in collect
    weightless = _body("no_gross_weight")
    assert Segment("TD1", ("CTN25", "2")) in weightless
    assert Segment("N1", ("SF", "ACME HOUSEWARES INC", "1", "081466849")) in weightless
    assert Segment("N1", ("ST", "AMAZON.COM SERVICES LLC", "92", "PHX6")) in weightless
    parcel = _body("parcel_one_po_one_carton")
    assert not any(s.tag == "REF" and s.text(1) in ("BM", "AO") for s in parcel)
    assert Segment("TD5", ("", "2", "UPSN", "U")) in parcel


@pytest.mark.parametrize(
    ("mode", "code"),
    [("motor", "M"), ("ltl", "LT"), ("parcel", "U"), ("air", "A"), ("ocean", "S"),
     ("rail", "R"), ("private", "P"), ("customer_pickup", "H")],
)  # fmt: skip
def test_every_transport_mode_is_written_and_read_back(mode: str, code: str) -> None:
    """TD504 is the mode's code (ship_notice.TRANSPORT_MODES); each one validates."""
    document = load_document("856", "parcel_one_po_one_carton").model_copy(
        update={"carrier": Carrier(scac="UPSN", mode=mode)}
    )
    transaction = _transaction(document)
    assert Segment("TD5", ("", "2", "UPSN", code)) in transaction.segments
    assert ts856.to_erp(transaction) == document
    assert validate(render_golden(document)).all_findings() == []


def test_issued_at_with_seconds_is_written_hhmmss() -> None:
    """BSN04 is HHMM, or HHMMSS when the export's issued_at has seconds (kept on reading)."""
    document = load_document("856", "parcel_one_po_one_carton")
    document = document.model_copy(update={"issued_at": datetime(2025, 3, 10, 15, 30, 42)})
    transaction = _transaction(document)
    assert transaction.segments[0].text(4) == "153042"
    assert ts856.to_erp(transaction) == document


def test_order_without_cartons_is_refused() -> None:
    """An order with neither pallets nor cartons ships nothing: the model refuses it at its
    JSON path, and a set with an empty HL O cannot be read into a ShipNotice."""
    document = load_document("856", "ltl_several_pos_bol_pro")
    data = document.model_dump(mode="json")
    data["orders"][0]["pallets"] = []
    with pytest.raises(ErpDocumentError) as refused:
        parse_document(json.dumps(data))
    assert [p.path for p in refused.value.problems] == ["$.orders[0]"]
    body = list(_transaction(document).segments)
    first_order = next(i for i, s in enumerate(body) if s.tag == "HL" and s.text(3) == "O")
    second_order = next(
        i for i, s in enumerate(body) if i > first_order and s.tag == "HL" and s.text(3) == "O"
    )
    emptied = body[: first_order + 2] + body[second_order:]
    with pytest.raises(MappingError, match="at least one carton"):
        ts856.to_erp(build_transaction("856", 1, emptied))


# -- what cannot be mapped ---------------------------------------------------------------------


@pytest.mark.parametrize("release", ["003060", "004010VICS", "005010X230", "006020", ""])
def test_other_releases_are_refused(release: str) -> None:
    """Only 004010 and 005010 are mapped; any other GS08 is a MappingError naming GS08."""
    document = load_document("856", "parcel_one_po_one_carton")
    with pytest.raises(MappingError, match="GS08"):
        ts856.from_erp(document, release=release)


def test_unpaired_ship_from_id_is_refused() -> None:
    """N103 and N104 are paired: the model refuses an id_qualifier without an id, at the
    ship_from's JSON path, before anything is rendered."""
    data = load_document("856", "no_gross_weight").model_dump(mode="json")
    data["ship_from"]["id"] = None
    with pytest.raises(ErpDocumentError) as refused:
        parse_document(json.dumps(data))
    assert [(p.path, p.message) for p in refused.value.problems] == [
        ("$.ship_from", "id and id_qualifier go together")
    ]


def _first(body: list[Segment], tag: str, value: str | None = None) -> Segment:
    return next(s for s in body if s.tag == tag and (value is None or s.text(1) == value))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda b: _replace(b, _first(b, "BSN"), None), "has no BSN"),
        (lambda b: _replace(b, _first(b, "BSN"), Segment("BSN", ("01", "X1", "20250311",
                                                                 "1645"))), "BSN01 '01'"),
        (lambda b: _replace(b, _first(b, "BSN"), Segment("BSN", ("00", "X1", "20251311",
                                                                 "1645"))), "BSN03"),
        (lambda b: _replace(b, _first(b, "BSN"), Segment("BSN", ("00", "X1", "20250311",
                                                                 "2561"))), "BSN04"),
        (lambda b: _replace(b, _first(b, "HL", "4"), Segment("HL", ("4", "99", "P", "1"))),
         "HL 4: HL02 '99' names no earlier HL"),
        (lambda b: _replace(b, _first(b, "HL", "5"), Segment("HL", ("5", "2", "I", "0"))),
         "HL 5: HL02 '2' is a level O; a level I hangs from P"),
        (lambda b: _replace(b, _first(b, "HL", "3"), Segment("HL", ("3", "2", "X", "1"))),
         "HL03 'X'"),
        (lambda b: _replace(b, _first(b, "HL", "4"), Segment("HL", ("3", "3", "P", "1"))),
         "HL01 '3' is used twice"),
        (lambda b: _replace(b, _first(b, "HL", "1"), Segment("HL", ("1", "", "O", "1"))),
         "HL 1: HL02 is empty; a level O hangs from S"),
        (lambda b: _replace(b, _first(b, "TD5"), Segment("TD5", ("", "2", "ODFL", "ZZ"))),
         "TD504 'ZZ'"),
        (lambda b: _replace(b, _first(b, "TD5"), Segment("TD5", ("", "ZZ", "ODFL", "LT"))),
         "TD502 'ZZ'"),
        (lambda b: _replace(b, _first(b, "TD5"), None), "has no TD5"),
        (lambda b: _replace(b, _first(b, "TD1", "CTN25"), Segment("TD1", ("BOX25", "5"))),
         "TD101 'BOX25'"),
        (lambda b: _replace(b, _first(b, "TD1", "CTN25"), None), "no TD1\\*CTN25"),
        (lambda b: _replace(b, _first(b, "TD1", "PLT94"), Segment("TD1", ("PLT94", "2.5"))),
         "TD102 '2.5'"),
        (lambda b: _replace(b, _first(b, "TD1", "CTN25"),
                            Segment("TD1", ("CTN25", "5", "", "", "", "N", "9", "LB"))),
         "TD106 'N'"),
        (lambda b: _replace(b, _first(b, "TD1", "CTN25"),
                            Segment("TD1", ("CTN25", "5", "", "", "", "G", "9", "TN"))),
         r"\$\.weight_unit"),
        (lambda b: _replace(b, _first(b, "DTM", "017"), None), "no DTM\\*017"),
        (lambda b: _replace(b, _first(b, "N1", "ST"), None), "no N1\\*ST"),
        (lambda b: _replace(b, _first(b, "N1", "SF"), Segment("N1", ("VN", "ACME"))),
         "no N1\\*SF"),
        (lambda b: _replace(b, _first(b, "PRF"), None), "no PRF at HL 2"),
        (lambda b: _replace(b, _first(b, "MAN", "GM"), Segment("LIN", ("1", "UP", "1"))),
         r"HL 3 \(T\): LIN belongs to HL level I"),
        (lambda b: _replace(b, b[b.index(_first(b, "HL", "4")) + 1], None),
         r"HL 4 \(P\): no MAN\*GM"),
        (lambda b: b[: b.index(_first(b, "HL", "5"))] + b[b.index(_first(b, "HL", "6")) :],
         r"HL 4 \(P\): the carton has no HL I"),
        (lambda b: b[: b.index(_first(b, "HL", "4"))] + b[b.index(_first(b, "HL", "8")) :],
         r"HL 3 \(T\): the pallet has no HL P"),
        (lambda b: _replace(b, _first(b, "SN1"), Segment("SN1", ("", "2A", "EA"))),
         "HL 5 SN102 '2A'"),
        (lambda b: _replace(b, _first(b, "SN1"), None), "no SN1 at HL 5"),
        (lambda b: _replace(b, _first(b, "LIN"), Segment("LIN", ("1", "XX", "850001234016"))),
         "HL 5 LIN: product id qualifier 'XX'"),
        (lambda b: _replace(b, _first(b, "LIN"), Segment("LIN", ("", "UP", "850001234016"))),
         "LIN01"),
        (lambda b: _replace(b, _first(b, "LIN"), Segment("LIN", ("1",))), "LIN02/LIN03"),
        (lambda b: _replace(b, _first(b, "SN1"), Segment("SN1", ("", "24", "E")) ),
         r"\$\.orders\[0\]\.pallets\[0\]\.cartons\[0\]\.items\[0\]\.unit"),
        (lambda b: [s for s in b if not (s.tag == "HL" and s.text(3) == "S")],
         "HL 2: HL02 '1' names no earlier HL"),
    ],
)  # fmt: skip
def test_unmappable_856_is_a_mapping_error(edit, message: str) -> None:  # type: ignore[no-untyped-def]
    """Missing or unreadable content, a broken HL tree, codes with no ERP form: each one is a
    MappingError naming the element, the HL level or the JSON path."""
    with pytest.raises(MappingError, match=message):
        ts856.to_erp(_edit(PALLETS, edit))


def test_shipment_without_hl_is_a_mapping_error() -> None:
    """A set with a BSN and no HL has no shipment level."""
    transaction = build_transaction("856", 1, [Segment("BSN", ("00", "X1", "20250311", "1645"))])
    with pytest.raises(MappingError, match="no HL\\*S"):
        ts856.to_erp(transaction)
