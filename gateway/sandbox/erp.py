"""A vendor's ERP as the sandbox and the demo play it: from a purchase order, the 855 with a
decision per line, the 856 shipping what was accepted (one SSCC-labelled carton per line) and
the 810 invoicing what was shipped, at the acknowledged cost, with the exact total.

Decisions per PO line id: ``accept`` (all of it, shipping today), ``backorder`` (all of it,
scheduled later; not shipped, not invoiced now) or ``reject`` (Amazon's onboarding test of a
discontinued item: ``obsolete_product``; amazon-x12.md section 4).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any, Literal

from gateway.erp import (
    AcknowledgedLine,
    Address,
    Carrier,
    Carton,
    Invoice,
    InvoiceLine,
    LineStatus,
    PaymentTerms,
    PoAcknowledgment,
    PurchaseOrder,
    ShipNotice,
    ShippedItem,
    ShippedOrder,
)
from gateway.rules import gs1_check_digit

Decision = Literal["accept", "backorder", "reject"]

SHIP_FROM = Address(name="ACME HOUSEWARES INC", street=["100 INDUSTRIAL WAY"], city="DAYTON",
                    state="OH", postal_code="45402", country="US")  # fmt: skip
BILL_TO = Address(name="AMAZON.COM SERVICES LLC", id_qualifier="92", id="AMZN",
                  street=["PO BOX 80387"], city="SEATTLE", state="WA", postal_code="98108",
                  country="US")  # fmt: skip


def sscc(serial: int, company_prefix: str = "0850001") -> str:
    """An SSCC-18: extension digit 0, the GS1 company prefix, a 9-digit serial and the GS1
    mod-10 check digit."""
    body = f"0{company_prefix}{serial:09d}"
    if len(body) != 17:
        raise ValueError(f"company prefix {company_prefix!r} does not make an SSCC-18")
    return body + str(gs1_check_digit(body))


def ssccs(first_serial: int = 1, company_prefix: str = "0850001") -> Iterator[str]:
    """New SSCCs, serial after serial."""
    return (sscc(serial, company_prefix) for serial in count(first_serial))


def acknowledgment(
    po: PurchaseOrder, decisions: Mapping[str, Decision] | None = None, *, today: date,
    backorder_days: int = 14,
) -> PoAcknowledgment:  # fmt: skip
    """The 855 for ``po``: every line with its decision (default ``accept``), at the PO
    price; accepted lines ship ``today``, backordered ones ``backorder_days`` later."""
    lines = []
    for line in po.lines:
        decision = (decisions or {}).get(line.line_id, "accept")
        status: dict[str, Any] = {"quantity": line.quantity, "unit": line.unit}
        if decision == "accept":
            status.update(status="accepted", scheduled_date=today)
        elif decision == "backorder":
            status.update(status="backordered",
                          scheduled_date=today + timedelta(days=backorder_days))  # fmt: skip
        else:
            status.update(status="rejected", rejection_reason="obsolete_product")
        lines.append(AcknowledgedLine(
            line_id=line.line_id, ordered_quantity=line.quantity, unit=line.unit,
            unit_cost=line.unit_price, price_basis=line.price_basis,
            product_ids=line.product_ids, statuses=[LineStatus(**status)],
        ))  # fmt: skip
    return PoAcknowledgment(po_number=po.po_number, po_date=po.po_date, lines=lines)


def shipped(ack: PoAcknowledgment) -> list[tuple[AcknowledgedLine, Decimal]]:
    """Each acknowledged line with the quantity accepted (shipped now), when there is one."""
    found = []
    for line in ack.lines:
        quantity = sum((s.quantity for s in line.statuses if s.status == "accepted"), Decimal(0))
        if quantity > 0:
            found.append((line, quantity))
    return found


def ship_notice(
    po: PurchaseOrder, ack: PoAcknowledgment, cartons: Iterator[str], *, today: date,
    motor: bool = False,
) -> ShipNotice:  # fmt: skip
    """The 856 shipping every accepted quantity of ``ack``, one carton per line labelled with
    the next SSCC of ``cartons``, today, delivery in 3 days; by parcel, or by motor with a
    bill of lading and a PRO number."""
    boxes = [
        Carton(sscc=next(cartons),
               items=[ShippedItem(line_id=line.line_id, product_ids=line.product_ids,
                                  quantity=quantity, unit=line.unit)])
        for line, quantity in shipped(ack)
    ]  # fmt: skip
    freight: dict[str, Any] = {"carrier": Carrier(scac="UPSN", mode="parcel")}
    if motor:
        freight = {"carrier": Carrier(scac="ABFS", mode="motor"),
                   "bill_of_lading": f"ACME{po.po_number}", "pro_number": f"PRO{po.po_number}"}
    return ShipNotice(
        shipment_id=f"SH{po.po_number}",
        issued_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0), ship_date=today,
        estimated_delivery=today + timedelta(days=3), ship_from=SHIP_FROM, ship_to=po.ship_to,
        carton_count=len(boxes), pallet_count=0,
        orders=[ShippedOrder(po_number=po.po_number, po_date=po.po_date, cartons=boxes)],
        **freight,
    )  # fmt: skip


def invoice(po: PurchaseOrder, ack: PoAcknowledgment, *, today: date) -> Invoice:
    """The 810 for what ``ack`` accepted (what was shipped), at the acknowledged cost, dated
    today, with the exact total."""
    lines = [
        InvoiceLine(line_id=line.line_id, quantity=quantity, unit=line.unit,
                    unit_price=line.unit_cost, price_basis=line.price_basis,
                    product_ids=line.product_ids)
        for line, quantity in shipped(ack)
    ]  # fmt: skip
    total = sum((line.quantity * line.unit_price for line in lines), Decimal(0))
    return Invoice(
        invoice_number=f"IN{po.po_number}", invoice_date=today, po_number=po.po_number,
        po_date=po.po_date, ship_date=today, vendor_code=po.vendor_code, bill_to=BILL_TO,
        remit_to=SHIP_FROM, ship_from=SHIP_FROM, ship_to=po.ship_to,
        terms=PaymentTerms(net_days=60), lines=lines, total=total.quantize(Decimal("0.01")),
    )  # fmt: skip
