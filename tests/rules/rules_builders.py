"""Small valid ERP documents for the rule tests, built as decoded JSON and read with the
pydantic models, so a test changes one value and sees one problem.

The documents agree with each other: the acknowledgment accepts every line of the purchase
order in full at the PO price, the ship notice ships it all in valid, distinct SSCC-labelled
cartons on ``TODAY``, the invoice bills it with the right total.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from gateway.erp import Invoice, PoAcknowledgment, Problem, PurchaseOrder, ShipNotice

#: The fixed "today" of every date rule in these tests.
TODAY = date(2025, 3, 12)

PO_NUMBER = "7QX3KD9M"
PO_DATE = "2025-03-10"
#: Known-valid public identifiers (GS1 and ISBN examples), checked by hand in the tests.
UPC = "036000291452"
EAN = "4006381333931"
ISBN13 = "9780306406157"
ASIN = "B00EXAMPLE"

#: (line id, quantity, unit price, product ids) of the purchase order.
LINES: list[tuple[str, str, str, list[dict[str, str]]]] = [
    ("1", "24", "12.49", [{"kind": "upc", "value": UPC}]),
    ("2", "10", "5.25", [{"kind": "ean", "value": EAN}, {"kind": "asin", "value": ASIN}]),
    ("3", "6", "19.99", [{"kind": "isbn", "value": ISBN13}]),
]


def sscc(serial: int) -> str:
    """A valid SSCC-18: extension 0, GS1 company prefix 0614141, a 9-digit serial and the
    GS1 mod-10 check digit (computed here independently of gateway.rules)."""
    body = f"00614141{serial:09d}"
    weighted = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - weighted % 10) % 10)


def purchase_order_data() -> dict[str, Any]:
    """The purchase order as decoded JSON."""
    return {
        "type": "purchase_order",
        "po_number": PO_NUMBER,
        "order_type": "new",
        "po_date": PO_DATE,
        "back_order_allowed": True,
        "ship_window": {"not_before": "2025-03-14", "not_after": "2025-03-21"},
        "ship_to": {"code": "RIC2"},
        "lines": [
            {"line_id": i, "quantity": q, "unit": "EA", "unit_price": p, "product_ids": ids}
            for i, q, p, ids in LINES
        ],
    }


def acknowledgment_data() -> dict[str, Any]:
    """An 855 accepting every PO line in full at the PO price."""
    return {
        "type": "po_acknowledgment",
        "po_number": PO_NUMBER,
        "po_date": PO_DATE,
        "lines": [
            {
                "line_id": i,
                "ordered_quantity": q,
                "unit": "EA",
                "unit_cost": p,
                "product_ids": ids,
                "statuses": [{"status": "accepted", "quantity": q, "unit": "EA"}],
            }
            for i, q, p, ids in LINES
        ],
    }


def item(line: int, quantity: str | None = None) -> dict[str, Any]:
    """A shipped item of PO line index ``line`` (0-based), the full quantity by default."""
    line_id, ordered, _price, ids = LINES[line]
    return {"line_id": line_id, "product_ids": ids, "quantity": quantity or ordered,
            "unit": "EA"}  # fmt: skip


def ship_notice_data() -> dict[str, Any]:
    """An 856 shipping everything on ``TODAY``: one pallet (with its SSCC) holding two
    cartons, and one loose carton."""
    return {
        "type": "ship_notice",
        "shipment_id": "SHP0001",
        "issued_at": "2025-03-12T10:00:00",
        "ship_date": TODAY.isoformat(),
        "estimated_delivery": "2025-03-14",
        "carrier": {"scac": "ABFS", "mode": "ltl"},
        "pro_number": "PRO12345678",
        "bill_of_lading": "VEND00012345",
        "ship_from": {"name": "Acorn Supply"},
        "ship_to": {"code": "RIC2"},
        "carton_count": 3,
        "pallet_count": 1,
        "orders": [
            {
                "po_number": PO_NUMBER,
                "po_date": PO_DATE,
                "pallets": [
                    {
                        "sscc": sscc(1),
                        "cartons": [
                            {"sscc": sscc(2), "items": [item(0)]},
                            {"sscc": sscc(3), "items": [item(1)]},
                        ],
                    }
                ],
                "cartons": [{"sscc": sscc(4), "items": [item(2)]}],
            }
        ],
    }


def invoice_data() -> dict[str, Any]:
    """An 810 billing every line in full: 24 x 12.49 + 10 x 5.25 + 6 x 19.99 = 472.20."""
    return {
        "type": "invoice",
        "invoice_number": "INV-1001",
        "invoice_date": TODAY.isoformat(),
        "po_number": PO_NUMBER,
        "po_date": PO_DATE,
        "bill_to": {"name": "Amazon.com Services LLC"},
        "remit_to": {"name": "Acorn Supply"},
        "ship_from": {"name": "Acorn Supply"},
        "terms": {"net_days": 60},
        "lines": [
            {"line_id": i, "quantity": q, "unit": "EA", "unit_price": p, "product_ids": ids}
            for i, q, p, ids in LINES
        ],
        "total": "472.20",
    }


def purchase_order(data: dict[str, Any] | None = None) -> PurchaseOrder:
    """The purchase order model (of ``data`` when given)."""
    return PurchaseOrder.model_validate(data or purchase_order_data())


def acknowledgment(data: dict[str, Any] | None = None) -> PoAcknowledgment:
    """The 855 model (of ``data`` when given)."""
    return PoAcknowledgment.model_validate(data or acknowledgment_data())


def ship_notice(data: dict[str, Any] | None = None) -> ShipNotice:
    """The 856 model (of ``data`` when given)."""
    return ShipNotice.model_validate(data or ship_notice_data())


def invoice(data: dict[str, Any] | None = None) -> Invoice:
    """The 810 model (of ``data`` when given)."""
    return Invoice.model_validate(data or invoice_data())


def changed(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with the value at ``path`` (``lines[0].statuses[0].quantity``,
    no leading ``$.``) replaced by ``value``."""
    result = copy.deepcopy(data)
    parts: list[str | int] = []
    for name in path.split("."):
        if "[" in name:
            head, *indexes = name.replace("]", "").split("[")
            parts.append(head)
            parts.extend(int(i) for i in indexes)
        else:
            parts.append(name)
    target: Any = result
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value
    return result


def found(problems: list[Problem]) -> list[tuple[str, str, str]]:
    """(path, code, severity) of each problem, in order."""
    return [(p.path, p.code, p.severity) for p in problems]
