"""Amazon's rules for a ship notice (ASN, 856) on its own (amazon-x12.md section 5).

The rules that need the purchase order or the acknowledgment (line ids, identifiers,
shipped <= accepted) are in :mod:`gateway.rules.cross`.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from gateway.erp import Problem, ShipNotice
from gateway.rules.check_digits import sscc_key, sscc_valid
from gateway.rules.walk import cartons, items

#: Rule 2: the ship date lies within the past 7 days or up to 2 days ahead of submission.
SHIP_DATE_DAYS_BACK = 7
SHIP_DATE_DAYS_AHEAD = 2
#: Rule 4: modes that move as truckload or less-than-truckload freight, where a bill of
#: lading and a PRO number are mandatory in North America.
FREIGHT_MODES = frozenset({"motor", "ltl"})
#: A BOL that reads as a date or a date and time (rule 4: "not a date/time").
_DATE_LIKE = re.compile(
    r"(19|20)\d\d[-/.]?(0[1-9]|1[0-2])[-/.]?(0[1-9]|[12]\d|3[01])([ T:]?\d{2,6})?"
    r"|(0[1-9]|1[0-2])[-/.](0[1-9]|[12]\d|3[01])[-/.](19|20)?\d\d"
)


def ship_notice_problems(notice: ShipNotice, *, today: date | None = None) -> list[Problem]:
    """Problems of ``notice`` by JSON path; ``today`` is the submission date (default: the
    local date now). Never raises for a bad document.

    Dates: ship date in the window [today - 7 days, today + 2 days] (``ship_date_window``);
    estimated delivery not before the ship date (``delivery_before_ship``). Labels: every
    SSCC, carton and pallet, with a valid GS1 check digit (``check_digit``) and unique in
    the notice (``duplicate_sscc``). Counts: ``carton_count`` and ``pallet_count`` equal to
    the cartons and pallets listed (``carton_count_mismatch``, ``pallet_count_mismatch``);
    every shipped quantity above zero (``quantity_not_positive``). Freight: a bill of lading
    for motor and LTL shipments (``bill_of_lading_missing``), not one character nor a date
    (``bill_of_lading_format``), and a PRO number for them (``pro_number_missing``, warning).
    """
    today = today or date.today()
    problems: list[Problem] = []

    # Rule 2: ship date within the past 7 days or up to 2 days in the future of submission.
    earliest = today - timedelta(days=SHIP_DATE_DAYS_BACK)
    latest = today + timedelta(days=SHIP_DATE_DAYS_AHEAD)
    if not earliest <= notice.ship_date <= latest:
        problems.append(Problem(
            "$.ship_date",
            f"ship date {notice.ship_date} is outside {earliest}..{latest}: Amazon accepts"
            f" {SHIP_DATE_DAYS_BACK} days back and {SHIP_DATE_DAYS_AHEAD} days ahead of"
            f" {today}",
            "ship_date_window",
        ))  # fmt: skip
    # Section 5, DTM row: shipped (011) and estimated delivery (017) are both required; the
    # delivery cannot precede the departure.
    if notice.estimated_delivery < notice.ship_date:
        problems.append(Problem(
            "$.estimated_delivery",
            f"estimated delivery {notice.estimated_delivery} is before the ship date"
            f" {notice.ship_date}",
            "delivery_before_ship",
        ))  # fmt: skip

    problems.extend(_sscc_problems(notice))

    # Section 5, TD1 row: the carton count is required and the pallet count is 0 for
    # parcel or the number of pallets; both must describe the cartons and pallets listed.
    carton_total = sum(1 for _ in cartons(notice))
    if notice.carton_count != carton_total:
        problems.append(Problem(
            "$.carton_count",
            f"carton_count is {notice.carton_count} but the notice lists {carton_total} cartons",
            "carton_count_mismatch",
        ))  # fmt: skip
    pallet_total = sum(len(order.pallets) for order in notice.orders)
    if notice.pallet_count != pallet_total:
        problems.append(Problem(
            "$.pallet_count",
            f"pallet_count is {notice.pallet_count} but the notice lists {pallet_total} pallets",
            "pallet_count_mismatch",
        ))  # fmt: skip

    # Section 5, HL I row: SN102 is the number of units shipped; a retail ASN does not
    # announce zero units (the SN102 = 0 floor denial is Direct Fulfillment only).
    for placed in items(notice):
        if placed.item.quantity <= 0:
            problems.append(Problem(
                f"{placed.path}.quantity",
                f"the shipped quantity of line {placed.item.line_id} must be above 0",
                "quantity_not_positive",
            ))  # fmt: skip

    problems.extend(_freight_problems(notice))
    return problems


def _sscc_problems(notice: ShipNotice) -> list[Problem]:
    # Rule 5: an SSCC is mandatory per carton (the model requires it), optional per pallet,
    # unique for 365 days; section 5, MAN row: GS1 mod-10 check digit. Uniqueness across
    # notices needs the store; within one notice it is checked here, on the 18-digit form
    # so that 00 + SSCC and SSCC are the same label.
    labels: list[tuple[str, str]] = []  # (JSON path, SSCC) in document order
    for o, order in enumerate(notice.orders):
        for p, pallet in enumerate(order.pallets):
            if pallet.sscc is not None:
                labels.append((f"$.orders[{o}].pallets[{p}].sscc", pallet.sscc))
            for c, carton in enumerate(pallet.cartons):
                labels.append((f"$.orders[{o}].pallets[{p}].cartons[{c}].sscc", carton.sscc))
        for c, carton in enumerate(order.cartons):
            labels.append((f"$.orders[{o}].cartons[{c}].sscc", carton.sscc))

    problems: list[Problem] = []
    first_seen: dict[str, str] = {}
    for path, sscc in labels:
        if not sscc_valid(sscc):
            problems.append(Problem(
                path, f"SSCC {sscc} has a wrong check digit (GS1 mod 10)", "check_digit",
            ))  # fmt: skip
        key = sscc_key(sscc)
        if key in first_seen:
            problems.append(Problem(
                path,
                f"SSCC {sscc} is already used at {first_seen[key]}; every label is unique",
                "duplicate_sscc",
            ))  # fmt: skip
        else:
            first_seen[key] = path
    return problems


def _freight_problems(notice: ShipNotice) -> list[Problem]:
    problems: list[Problem] = []
    freight = notice.carrier.mode in FREIGHT_MODES
    bol = notice.bill_of_lading
    # Rule 4: the BOL number is mandatory for TL/LTL in North America (the X12 channel
    # this gateway serves; Amazon EU trades EDIFACT, section 1), so its absence is an error.
    if freight and bol is None:
        problems.append(Problem(
            "$.bill_of_lading",
            f"a {notice.carrier.mode} shipment needs its bill of lading number",
            "bill_of_lading_missing",
        ))  # fmt: skip
    # Rule 4: the BOL is not a single character and not a date/time.
    if bol is not None:
        if len(bol) < 2:
            problems.append(Problem(
                "$.bill_of_lading",
                f"bill of lading {bol!r} is a single character; Amazon refuses it",
                "bill_of_lading_format",
            ))  # fmt: skip
        elif _DATE_LIKE.fullmatch(bol):
            problems.append(Problem(
                "$.bill_of_lading",
                f"bill of lading {bol!r} reads as a date or time; Amazon wants the BOL number"
                " (or at least 8 digits prefixed with the vendor code)",
                "bill_of_lading_format",
                "warning",
            ))  # fmt: skip
    # Rule 4: the PRO (carrier reference) is mandatory in North America. Its X12 home is
    # inferred (REF, section 5) and parcel shipments carry tracking numbers instead, so
    # its absence on freight is a warning.
    if freight and notice.pro_number is None:
        problems.append(Problem(
            "$.pro_number",
            f"a {notice.carrier.mode} shipment should carry the carrier's PRO number",
            "pro_number_missing",
            "warning",
        ))  # fmt: skip
    return problems
