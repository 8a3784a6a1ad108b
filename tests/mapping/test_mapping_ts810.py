"""810 invoice mapping: golden files, round trip, validation, and the BIG/CUR/N1/ITD/IT1/TDS/TXI/
SAC/CTT rules of amazon-x12.md section 6."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.erp import Invoice
from gateway.errors import MappingError
from gateway.mapping import render, ts810
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

NAMES = golden_names("810")


def transaction_of(data: bytes) -> Transaction:
    """The one transaction set of a rendered interchange."""
    return parse(data).interchanges[0].groups[0].transactions[0]


def invoice(name: str = "plain", **changes: Any) -> Invoice:
    """A golden invoice with top-level fields replaced (and validated again)."""
    data = load_document("810", name).model_dump(mode="json", exclude_none=True)
    data.update(changes)
    return Invoice.model_validate(data)


def tags(segments: list[Segment], tag: str) -> list[Segment]:
    return [seg for seg in segments if seg.tag == tag]


# ----------------------------------------------------------------------------- golden files


def test_there_are_golden_invoices_for_every_case() -> None:
    """At least 11 golden 810 exports, each with its expected interchange, each total exact."""
    assert len(NAMES) >= 11
    for name in NAMES:
        assert (GOLDEN / "810" / f"{name}.edi").is_file(), name
        document = load_document("810", name)
        items = sum(line.quantity * line.unit_price for line in document.lines)
        charges = sum(c.amount if c.kind == "charge" else -c.amount for c in document.charges)
        taxes = sum(tax.amount for tax in document.taxes)
        assert document.total == items + charges + taxes, name





# ----------------------------------------------------------------------------- header


def test_header_follows_the_map_order_big_cur_ref_n1_itd() -> None:
    """BIG, CUR (040) before REF (050), N1 loops BT/RI/SF/ST, then ITD (130)."""
    body = ts810.from_erp(load_document("810", "ship_to"))
    assert [seg.tag for seg in body[:14]] == [
        "BIG", "CUR", "REF", "N1", "N3", "N4", "N1", "N3", "N4", "N1", "N3", "N4", "N1", "ITD",
    ]  # fmt: skip
    assert body[0] == Segment("BIG", ("20250319", "INV2025000110", "20250309", "2YK7DJ4M"))
    assert body[1] == Segment("CUR", ("BT", "USD"))
    assert body[2] == Segment("REF", ("IA", "ACMEV"))
    assert [n1.text(1) for n1 in tags(body, "N1")] == ["BT", "RI", "SF", "ST"]
    assert body[12] == Segment("N1", ("ST", "AMAZON CMH1", "92", "CMH1"))


def test_cur_is_always_sent_and_ref_ia_only_with_a_vendor_code() -> None:
    """The map requires CUR, so even USD is stated; no vendor code, no REF*IA."""
    body = ts810.from_erp(load_document("810", "remit_to_duns_no_vendor_code"))
    assert body[1] == Segment("CUR", ("BT", "USD"))
    assert tags(body, "REF") == []
    cad = ts810.from_erp(load_document("810", "cad_currency"))
    assert cad[1] == Segment("CUR", ("BT", "CAD"))


def test_parties_carry_n3_and_n4_only_when_the_address_has_them() -> None:
    """N1 with N103/N104 when the party has an id; N3 with two streets; N4 only with a place."""
    document = invoice(
        remit_to={"name": "ACME HOUSEWARES INC", "id_qualifier": "1", "id": "080012345"},
        ship_from={"name": "ACME HOUSEWARES INC", "street": ["2500 COMMERCE PKWY", "SUITE 110"]},
    )
    body = ts810.from_erp(document)
    start = body.index(Segment("N1", ("RI", "ACME HOUSEWARES INC", "1", "080012345")))
    assert body[start : start + 4] == [
        Segment("N1", ("RI", "ACME HOUSEWARES INC", "1", "080012345")),
        Segment("N1", ("SF", "ACME HOUSEWARES INC")),
        Segment("N3", ("2500 COMMERCE PKWY", "SUITE 110")),
        Segment("ITD", ("01", "3", "", "", "", "", "60")),
    ]
    assert ts810.to_erp(build_transaction("810", 1, body)) == document


def test_itd_places_the_terms_in_their_elements() -> None:
    """ITD01 type, ITD02 basis, ITD03 discount %, ITD05 discount days, ITD07 net days, ITD12."""
    (itd,) = tags(ts810.from_erp(load_document("810", "discount_terms")), "ITD")
    assert itd == Segment(
        "ITD", ("01", "3", "2", "", "10", "", "30", "", "", "", "", "2% 10 NET 30")
    )


# ----------------------------------------------------------------------------- detail, summary


def test_it1_echoes_line_price_basis_and_identifiers() -> None:
    """IT101-IT105 then the identifier pairs in the PO's order; a 4-decimal price stays R."""
    lines = tags(ts810.from_erp(load_document("810", "several_lines")), "IT1")
    assert lines[0] == Segment(
        "IT1", ("1", "8", "CA", "149.88", "CA", "UK", "10850001234013", "VN", "ACM-TMB-20SS-CS12")
    )
    assert lines[3].elements[:6] == ("4", "400", "EA", "0.8125", "", "UP")


def test_summary_order_is_tds_txi_sac_ctt() -> None:
    """TDS (010), header TXI (020), the SAC loop (040), CTT (070)."""
    body = ts810.from_erp(load_document("810", "charges_allowances_tax"))
    assert [seg.tag for seg in body[-7:]] == ["TDS", "TXI", "SAC", "SAC", "SAC", "SAC", "CTT"]


def test_tds01_is_the_total_in_cents() -> None:
    """TDS01 is N2: 1234.5 -> 123450, 0.07 -> 7."""
    assert tags(ts810.from_erp(invoice(total="1234.5")), "TDS") == [Segment("TDS", ("123450",))]
    assert tags(ts810.from_erp(invoice(total="0.07")), "TDS") == [Segment("TDS", ("7",))]


def test_sac_carries_indicator_code_amount_in_cents_and_description() -> None:
    """SAC01 C/A, SAC02 code, SAC05 N2 cents, SAC15 description; TXI02 stays R."""
    body = ts810.from_erp(load_document("810", "charges_allowances_tax"))
    assert tags(body, "SAC")[0] == Segment(
        "SAC", ("C", "D240", "", "", "12000", *[""] * 9, "FREIGHT")
    )
    assert tags(body, "SAC")[2].elements[:5] == ("A", "C310", "", "", "1235")
    assert tags(body, "TXI") == [Segment("TXI", ("ST", "60.82", "7.25"))]
    plain = ts810.from_erp(invoice(charges=[{"kind": "charge", "code": "D240", "amount": "42.5"}]))
    assert tags(plain, "SAC") == [Segment("SAC", ("C", "D240", "", "", "4250"))]


def test_ctt_counts_it1_and_hashes_the_invoiced_quantities() -> None:
    """CTT01 number of IT1, CTT02 sum of IT102."""
    assert ts810.from_erp(load_document("810", "several_lines"))[-1] == Segment(
        "CTT", ("6", "482")
    )
    assert ts810.from_erp(load_document("810", "one_line"))[-1] == Segment("CTT", ("1", "30"))


def test_amounts_read_back_in_the_erp_form() -> None:
    """TDS01/SAC05 cents come back with two decimals; R prices with at least two."""
    back = ts810.to_erp(transaction_of(render_golden(load_document("810", "several_lines"))))
    assert str(back.total) == "3173.02"
    assert [str(line.unit_price) for line in back.lines][2:5] == ["12.49", "0.8125", "13.50"]


# ----------------------------------------------------------------------------- errors


def test_release_other_than_004010_is_refused() -> None:
    """The 810 is traded at 004010 only: from_erp and render refuse 005010."""
    document = load_document("810", "plain")
    with pytest.raises(MappingError, match="004010 only"):
        ts810.from_erp(document, release="005010")
    with pytest.raises(MappingError, match="004010 only"):
        render(document, sender=VENDOR, receiver=AMAZON, interchange_control_number=1,
               group_control_number=1, when=WHEN, release="005010")  # fmt: skip


def test_a_total_with_a_fraction_of_a_cent_is_refused_before_rendering() -> None:
    """TDS01 is N2 (whole cents): the model refuses 1214.765 at ``total``."""
    with pytest.raises(ValidationError, match=r"total\n.*at most 2 decimal places"):
        invoice(total="1214.765")


def test_a_charge_with_a_fraction_of_a_cent_is_refused_before_rendering() -> None:
    """SAC05 is N2: the model refuses 13.1925 at ``charges.1.amount``."""
    charges = [
        {"kind": "charge", "code": "D240", "amount": "85.00"},
        {"kind": "allowance", "code": "C310", "amount": "13.1925"},
    ]
    with pytest.raises(ValidationError, match=r"charges\.1\.amount\n.*at most 2 decimal places"):
        invoice(charges=charges)


def test_a_party_id_without_its_qualifier_is_refused() -> None:
    """N103/N104 are paired (P0304): the model refuses an id without its qualifier."""
    with pytest.raises(ValidationError, match=r"remit_to\n.*id and id_qualifier go together"):
        invoice(remit_to={"name": "ACME HOUSEWARES INC", "id": "080012345"})


def golden_body(name: str = "charges_allowances_tax") -> list[Segment]:
    return list(transaction_of(render_golden(load_document("810", name))).segments)


def replaced(body: list[Segment], old: Segment, new: list[Segment]) -> Transaction:
    """The set with ``old`` replaced by ``new`` (zero or more segments)."""
    index = body.index(old)
    return build_transaction("810", 1, body[:index] + new + body[index + 1 :])


IT1_1 = Segment(
    "IT1", ("1", "30", "EA", "12.49", "PE", "UP", "850001234016", "BP", "B0C7K2Q9XA", "VN",
            "ACM-TMB-20SS"),
)  # fmt: skip
TXI = Segment("TXI", ("ST", "60.82", "7.25"))
SAC = Segment("SAC", ("C", "D240", "", "", "12000", *[""] * 9, "FREIGHT"))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (IT1_1, [IT1_1, Segment("SAC", ("C", "D240", "", "", "500"))], "line-level SAC"),
        (IT1_1, [IT1_1, TXI], "line-level TXI"),
        (SAC, [SAC, TXI], "a tax on a charge"),
        (SAC, [Segment("SAC", ("N", "D240", "", "", "12000"))], "SAC01 'N'"),
        (SAC, [Segment("SAC", ("C", "D240"))], "no SAC05"),
        (SAC, [Segment("SAC", ("C", "FRT", "", "", "12000"))], "SAC02 'FRT'"),
        (TXI, [Segment("TXI", ("ST", "", "7.25"))], "TXI02 None"),
        (Segment("N1", ("RI", "ACME HOUSEWARES INC")), [], r"no N1\*RI"),
        (Segment("N1", ("RI", "ACME HOUSEWARES INC")),
         [Segment("N1", ("RE", "ACME HOUSEWARES INC"))], "N101 'RE'"),
        (Segment("N1", ("RI", "ACME HOUSEWARES INC")),
         [Segment("N1", ("BT", "ACME HOUSEWARES INC"))], r"N1\*BT appears twice"),
        (Segment("CUR", ("BT", "USD")), [], "has no CUR"),
        (Segment("CUR", ("BT", "USD")), [Segment("CUR", ("BT", "US"))], "CUR02 'US'"),
        (Segment("ITD", ("01", "3", "", "", "", "", "60")),
         [Segment("ITD", ("01", "3", "", "", "", "", "60")),
          Segment("ITD", ("05", "3", "", "", "", "", "90"))], "ITD appears 2 times"),
        (Segment("ITD", ("01", "3", "", "", "", "", "60")),
         [Segment("ITD", ("01", "3", "", "", "", "", "6O"))], "ITD07 '6O'"),
        (Segment("CTT", ("3", "114")), [Segment("CTT", ("4", "114"))], "CTT01 '4'"),
        (Segment("CTT", ("3", "114")), [Segment("CTT", ("3", "115"))], "CTT02 '115'"),
        (Segment("TDS", ("89967",)), [], "has no TDS"),
        (Segment("BIG", ("20250317", "INV2025000105", "20250310", "8DW4LT6R")),
         [Segment("BIG", ("20250317", "INV2025000105", "20250230", "8DW4LT6R"))],
         "BIG03 '20250230' is not a date"),
    ],
)  # fmt: skip
def test_content_without_a_place_in_the_document_is_refused_naming_the_element(
    old: Segment, new: list[Segment], message: str
) -> None:
    """to_erp raises MappingError naming the element rather than dropping or guessing."""
    with pytest.raises(MappingError, match=message):
        ts810.to_erp(replaced(golden_body(), old, new))


def test_a_set_that_is_not_an_810_is_refused() -> None:
    with pytest.raises(MappingError, match="not an 810"):
        ts810.to_erp(build_transaction("855", 1, golden_body()))


def test_totals_are_not_recomputed_by_the_mapping() -> None:
    """TDS01 carries the ERP's total as stated; checking it is the rules layer's job."""
    document = invoice(total="1000.00")
    assert tags(ts810.from_erp(document), "TDS") == [Segment("TDS", ("100000",))]
    assert ts810.to_erp(transaction_of(render_golden(document))).total == Decimal("1000.00")
