"""What the simulated Amazon checks in an interchange from the vendor, and the 997 it answers.

Amazon checks a vendor's 855, 856 and 810 twice: against its maps (the structure, which
:func:`gateway.validation.validate` walks) and against its business rules, comparing each
document with the purchase order Amazon sent (amazon-x12.md sections 4, 5, 6 and 9; "the
acknowledgement will be rejected within the EDI system"). :func:`check_interchange` does
both and answers with one 997 per functional group that names, for every business error,
the segment and element a person has to fix.

A business problem (:class:`~gateway.erp.Problem`) is located by the JSON path of the ERP
document; :data:`PLACES` says where the mapping (``gateway.mapping.ts855/ts856/ts810``)
carries each field, and the problem becomes an element finding there:

* AK3: AK301 the segment id, AK302 its position in the set (ST = 1), AK303 empty (the 997
  loop identifier names LS/LE-bounded loops, which Amazon's sets do not use; the
  validator leaves it empty too), AK304 ``8`` (segment has data element errors);
* AK4: AK401 the element position, AK402 the data element number, AK403 ``7`` (invalid
  code value: the value has the form the map allows but is not one Amazon accepts) or
  ``8`` (invalid date) for the date rules (:data:`ELEMENT_CODES`), AK404 a copy of the
  value sent.

A field whose segment is absent (a freight ASN without ``REF*BM``) is reported as that
segment missing (AK304 ``3``) at the opening segment of its loop; a problem this module
cannot place is reported on the set's first segment after ST with AK304 ``8`` and no
AK4. Warnings never reach the 997: a set with only warnings is accepted (AK5 ``A``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from gateway.erp import PoAcknowledgment, Problem, PurchaseOrder
from gateway.errors import MappingError
from gateway.mapping import translate
from gateway.rules import check
from gateway.validation import (
    Finding,
    InterchangeReport,
    ValidationReport,
    build_997,
    build_ta1,
    ta1_code,
    validate,
)
from gateway.x12 import Interchange, Segment, Transaction, parse, serialize

#: The sets the vendor sends that Amazon checks against its purchase orders.
CHECKED_SETS = frozenset({"855", "856", "810"})
#: Problem code of an 855, 856 or 810 answering a PO number Amazon never sent.
UNKNOWN_PURCHASE_ORDER = "unknown_purchase_order"
#: Problem code of a set the maps accept but that cannot be read as its ERP document.
NOT_MAPPABLE = "not_mappable"
#: AK403 of a business error by problem code; every other code is ``7`` (invalid code
#: value). The date rules (ship-date window, delivery before shipping, invoice dated in
#: the future) reject a well-formed date, for which ``8`` (invalid date) is the fitting code.
ELEMENT_CODES: dict[str, str] = {
    "ship_date_window": "8",
    "delivery_before_ship": "8",
    "invoice_date_future": "8",
}
DEFAULT_ELEMENT_CODE = "7"

_NO_ACKNOWLEDGMENTS: Mapping[str, PoAcknowledgment] = MappingProxyType({})


@dataclass(frozen=True)
class Place:
    """Where a field of an ERP document travels: segment ``segment`` (the one whose
    element 01 is ``qualifier``, when given), element ``element`` (AK401), data element
    number ``element_ref`` (AK402). ``pairs``: the field is a product identifier, and the
    n-th identifier sits n qualifier/value pairs further (PO107, PO109, ...)."""

    segment: str
    element: int
    element_ref: str
    qualifier: str | None = None
    pairs: bool = False


#: Field (relative JSON path, list indexes as ``[]``) -> place, per kind of object. The
#: object's own path picks the loop (``$.lines[2]`` is the third PO1 loop); an empty
#: field is the object itself. Element numbers from X12 004010, checked against maps/.
PLACES: dict[str, dict[str, Place]] = {
    "855": {
        ".po_number": Place("BAK", 3, "324"),
        ".po_date": Place("BAK", 4, "373"),
        # A PO line left out has no segment of its own. CTT01 states how many lines the
        # 855 acknowledges, which is what falls short of the PO; a person fixes it by adding
        # the line's PO1 loop (and with it CTT01).
        ".lines": Place("CTT", 1, "354"),
    },
    "855 line": {
        ".line_id": Place("PO1", 1, "350"),
        ".ordered_quantity": Place("PO1", 2, "330"),
        ".unit": Place("PO1", 3, "355"),
        ".unit_cost": Place("PO1", 4, "212"),
        ".price_basis": Place("PO1", 5, "639"),
        ".product_ids": Place("PO1", 7, "234"),
        ".product_ids[].kind": Place("PO1", 6, "235", pairs=True),
        ".product_ids[].value": Place("PO1", 7, "234", pairs=True),
        # The statuses of a line together (more acknowledged than ordered): the first ACK02.
        ".statuses": Place("ACK", 2, "380"),
    },
    "855 status": {
        ".status": Place("ACK", 1, "668"),
        ".quantity": Place("ACK", 2, "380"),
        ".unit": Place("ACK", 3, "355"),
        ".scheduled_date_kind": Place("ACK", 4, "374"),
        ".scheduled_date": Place("ACK", 5, "373"),
        ".rejection_reason": Place("ACK", 29, "1271"),
    },
    "856": {
        ".shipment_id": Place("BSN", 2, "396"),
        ".issued_at": Place("BSN", 3, "373"),
        ".carton_count": Place("TD1", 2, "80", "CTN25"),
        ".pallet_count": Place("TD1", 2, "80", "PLT94"),
        ".carrier.scac": Place("TD5", 3, "67"),
        ".carrier.mode": Place("TD5", 4, "91"),
        ".bill_of_lading": Place("REF", 2, "127", "BM"),
        ".pro_number": Place("REF", 2, "127", "CN"),
        ".amazon_reference_number": Place("REF", 2, "127", "AO"),
        ".ship_date": Place("DTM", 2, "373", "011"),
        ".estimated_delivery": Place("DTM", 2, "373", "017"),
    },
    "856 order": {
        ".po_number": Place("PRF", 1, "324"),
        ".po_date": Place("PRF", 4, "373"),
    },
    "856 pallet": {".sscc": Place("MAN", 2, "87", "GM")},
    "856 carton": {".sscc": Place("MAN", 2, "87", "GM")},
    "856 item": {
        ".line_id": Place("LIN", 1, "350"),
        ".product_ids": Place("LIN", 3, "234"),
        ".product_ids[].kind": Place("LIN", 2, "235", pairs=True),
        ".product_ids[].value": Place("LIN", 3, "234", pairs=True),
        ".quantity": Place("SN1", 2, "382"),
        ".unit": Place("SN1", 3, "355"),
        ".lot_number": Place("REF", 2, "127", "LT"),
        ".expiration_date": Place("DTM", 2, "373", "036"),
    },
    "810": {
        ".invoice_date": Place("BIG", 1, "373"),
        ".invoice_number": Place("BIG", 2, "76"),
        ".po_date": Place("BIG", 3, "373"),
        ".po_number": Place("BIG", 4, "324"),
        ".currency": Place("CUR", 2, "100"),
        ".ship_date": Place("DTM", 2, "373", "011"),
        ".total": Place("TDS", 1, "610"),
        ".lines": Place("CTT", 1, "354"),
    },
    "810 line": {
        ".line_id": Place("IT1", 1, "350"),
        ".quantity": Place("IT1", 2, "358"),
        ".unit": Place("IT1", 3, "355"),
        ".unit_price": Place("IT1", 4, "212"),
        ".price_basis": Place("IT1", 5, "639"),
        ".product_ids": Place("IT1", 7, "234"),
        ".product_ids[].kind": Place("IT1", 6, "235", pairs=True),
        ".product_ids[].value": Place("IT1", 7, "234", pairs=True),
    },
}


@dataclass(frozen=True)
class Verdict:
    """What the simulated Amazon concluded about one input.

    ``report``: the structural report with the business errors added as findings;
    ``documents``: the ERP documents of the 855/856/810 sets accepted after the business
    checks; ``problems``: (ST01, ST02, problem) for every business error found; ``ack``:
    the answer, Amazon to vendor (per interchange a TA1 when its envelope is rejected,
    else one interchange with a 997 per functional group; empty when the input holds no
    interchange to answer).
    """

    report: ValidationReport
    documents: list[Any]
    problems: list[tuple[str, str, Problem]]
    ack: bytes

    @property
    def accepted(self) -> bool:
        """True when nothing was rejected, structurally or by a business rule."""
        return self.report.accepted


def check_interchange(
    data: bytes,
    *,
    purchase_orders: Mapping[str, PurchaseOrder],
    acknowledgments: Mapping[str, PoAcknowledgment] = _NO_ACKNOWLEDGMENTS,
    sender: tuple[str, str],
    receiver: tuple[str, str],
    interchange_control_number: int,
    group_control_number: int,
    when: datetime,
    today: date | None = None,
) -> Verdict:
    """Check ``data`` (the vendor's interchange) like Amazon and build the answer.

    The maps first (:func:`gateway.validation.validate`); then every 855, 856 and 810 set
    they accept is translated to its ERP document and checked with
    :func:`gateway.rules.check` against the purchase order its PO number names in
    ``purchase_orders`` (and, for an 856 or 810, the 855 in ``acknowledgments`` under that
    number). A PO number Amazon never sent is itself an error (``unknown_purchase_order``)
    and so is a set the maps accept but the mapping cannot read (``not_mappable``). Each
    error becomes an element finding on its set (see the module docstring), which rejects
    the set (AK5 ``R``, AK502 ``5``) and with it the group (AK9 ``P`` or ``R``).

    The answer goes from ``sender`` to ``receiver`` ((ISA05, ISA06) and (ISA07, ISA08));
    ISA12, GS08, ISA15 and the delimiters mirror the input, GS02/GS03 are its GS03/GS02.
    ISA13 is ``interchange_control_number`` (plus one per further interchange answered),
    GS06 ``group_control_number`` (plus one per further group). ``today`` dates the
    ship-date window and the invoice date (default: the date of ``when``).

    Never raises for bad input: what the validator rejects is answered as
    :func:`gateway.validation.acknowledge` would (a TA1 for a rejected envelope), and input
    with no interchange at all (not X12) gets no answer (``ack`` is empty).
    """
    today = today or when.date()
    report = validate(data)
    tree = parse(data)
    documents: list[Any] = []
    problems: list[tuple[str, str, Problem]] = []
    for isa_report, isa in zip(report.interchanges, tree.interchanges, strict=False):
        if isa_report.status == "rejected":
            continue
        for group_report, group in zip(isa_report.groups, isa.groups, strict=False):
            if group_report.status == "rejected":
                continue  # decided before any business finding is added below
            for txn_report, txn in zip(group_report.transactions, group.transactions,
                                       strict=False):  # fmt: skip
                if txn_report.status == "rejected" or txn.set_id not in CHECKED_SETS:
                    continue
                document, found = business_problems(
                    txn, purchase_orders, acknowledgments, today=today
                )
                errors = [p for p in found if p.severity == "error"]
                for problem in errors:
                    txn_report.findings.append(finding_for(txn, problem))
                    problems.append((txn.set_id, txn.control_number, problem))
                if not errors and document is not None:
                    documents.append(document)
    answers = _answers(
        report, sender=sender, receiver=receiver, when=when,
        interchange_control_number=interchange_control_number,
        group_control_number=group_control_number,
    )  # fmt: skip
    return Verdict(report, documents, problems, b"".join(serialize(a) for a in answers))


def business_problems(
    transaction: Transaction,
    purchase_orders: Mapping[str, PurchaseOrder],
    acknowledgments: Mapping[str, PoAcknowledgment] = _NO_ACKNOWLEDGMENTS,
    *,
    today: date,
) -> tuple[Any | None, list[Problem]]:
    """The ERP document of an 855, 856 or 810 ``transaction`` (None when it cannot be
    read) and every business problem of it, errors and warnings, each (path, code) once.

    The document is checked against each purchase order it names (an 856 may carry
    several); a PO number missing from ``purchase_orders`` is ``unknown_purchase_order``
    at that number (and the document's own rules still run).
    """
    try:
        document = translate(transaction)
    except MappingError as exc:
        return None, [Problem("$", f"the set cannot be read: {exc}", NOT_MAPPABLE)]
    if document.type == "ship_notice":
        numbers = [(f"$.orders[{o}].po_number", order.po_number)
                   for o, order in enumerate(document.orders)]  # fmt: skip
    else:
        numbers = [("$.po_number", document.po_number)]
    found: list[Problem] = []
    known: list[str] = []
    for path, number in numbers:
        if number in purchase_orders:
            if number not in known:
                known.append(number)
        else:
            found.append(Problem(
                path, f"purchase order {number} was never sent by Amazon",
                UNKNOWN_PURCHASE_ORDER,
            ))  # fmt: skip
    for number in known:
        found += check(document, purchase_order=purchase_orders[number],
                       acknowledgment=acknowledgments.get(number), today=today)  # fmt: skip
    if not known:
        found += check(document, today=today)
    unique: dict[tuple[str, str], Problem] = {}
    for problem in found:
        unique.setdefault((problem.path, problem.code), problem)
    return document, list(unique.values())


# -- locating a problem in the set -----------------------------------------------------------


#: A segment of a set with its position (ST = 1, AK302).
_Placed = tuple[int, Segment]


@dataclass(frozen=True)
class _Scope:
    """One object of the ERP document in the set: its kind (a key of :data:`PLACES`), its
    segments with their positions (ST = 1), and the segment a missing one is reported at."""

    kind: str
    segments: list[_Placed]
    anchor: _Placed


def _scope(kind: str, segments: list[_Placed], anchor: _Placed | None = None) -> _Scope:
    return _Scope(kind, segments, anchor or segments[0])


def _loops(body: list[_Placed], opener: str) -> list[list[_Placed]]:
    """``body`` cut at each ``opener``; what precedes the first opener is left out."""
    out: list[list[_Placed]] = []
    for placed in body:
        if placed[1].tag == opener:
            out.append([placed])
        elif out:
            out[-1].append(placed)
    return out


def _line_scopes(body: list[_Placed], set_id: str, opener: str) -> dict[str, _Scope]:
    """855 and 810: the set, each line (PO1 / IT1 loop) and, in an 855, each ACK."""
    scopes = {"$": _scope(set_id, body)}
    for i, loop in enumerate(_loops(body, opener)):
        scopes[f"$.lines[{i}]"] = _scope(f"{set_id} line", loop)
        acks = [placed for placed in loop if placed[1].tag == "ACK"]
        for j, ack in enumerate(acks):
            scopes[f"$.lines[{i}].statuses[{j}]"] = _scope(f"{set_id} status", [ack])
    return scopes


def _ship_notice_scopes(body: list[_Placed]) -> dict[str, _Scope]:
    """856: the HL tree walked as ``ts856.to_erp`` reads it (orders under the shipment,
    pallets and loose cartons under an order, in that order per kind, items in cartons)."""
    levels = _loops(body, "HL")
    head = body[: len(body) - sum(len(level) for level in levels)]
    by_number = {level[0][1].text(1): level for level in levels}
    children: dict[str, list[str]] = {}
    for level in levels:
        children.setdefault(level[0][1].text(2), []).append(level[0][1].text(1))
    roots = [level for level in levels if level[0][1].text(3) == "S"]
    if not roots:
        return {"$": _scope("856", body)}
    root = roots[0]
    scopes = {"$": _scope("856", head + root, root[0])}

    def carton(path: str, number: str) -> None:
        scopes[path] = _scope("856 carton", by_number[number])
        for i, item in enumerate(children.get(number, [])):
            scopes[f"{path}.items[{i}]"] = _scope("856 item", by_number[item])

    for o, order in enumerate(children.get(root[0][1].text(1), [])):
        here = f"$.orders[{o}]"
        scopes[here] = _scope("856 order", by_number[order])
        pallets = loose = 0
        for child in children.get(order, []):
            if by_number[child][0][1].text(3) == "T":
                pallet = f"{here}.pallets[{pallets}]"
                scopes[pallet] = _scope("856 pallet", by_number[child])
                for c, pack in enumerate(children.get(child, [])):
                    carton(f"{pallet}.cartons[{c}]", pack)
                pallets += 1
            else:
                carton(f"{here}.cartons[{loose}]", child)
                loose += 1
    return scopes


def _scopes(transaction: Transaction) -> dict[str, _Scope]:
    body = list(enumerate(transaction.segments, start=2))
    if not body:
        return {}
    if transaction.set_id == "856":
        return _ship_notice_scopes(body)
    opener = "IT1" if transaction.set_id == "810" else "PO1"
    return _line_scopes(body, transaction.set_id, opener)


_INDEX = re.compile(r"\[(\d+)\]")
#: An element named in a mapping error: ``CTT01``, ``TD102``, ``N104``.
_ELEMENT_NAME = re.compile(r"\b([A-Z][A-Z0-9]{1,2})(\d{2})\b")


def finding_for(transaction: Transaction, problem: Problem) -> Finding:
    """The finding that reports ``problem`` (of the ERP document of ``transaction``) at the
    segment and element carrying it; see the module docstring for the codes. Never raises."""
    message = f"{problem.code}: {problem.message} ({problem.path})"
    scopes = _scopes(transaction)
    if not scopes:
        header = transaction.header
        return Finding("segment", "8", message, header.offset, header.tag, 1)
    if problem.code == NOT_MAPPABLE:
        found = _named_element(transaction, problem.message, message)
        if found is not None:
            return found
    prefix = problem.path
    while prefix not in scopes and prefix not in ("$", ""):
        prefix = prefix[: max(prefix.rfind("."), prefix.rfind("["), 0)]
    scope = scopes.get(prefix) or scopes["$"]
    field = problem.path[len(prefix) :] if prefix in scopes else ""
    place = PLACES.get(scope.kind, {}).get(_INDEX.sub("[]", field))
    if place is None:
        return _unplaced(scopes["$"], message)
    indexes = _INDEX.findall(field)
    element = place.element + (2 * int(indexes[-1]) if place.pairs and indexes else 0)
    for position, segment in scope.segments:
        if segment.tag == place.segment and place.qualifier in (None, segment.text(1)):
            return Finding(
                "element", ELEMENT_CODES.get(problem.code, DEFAULT_ELEMENT_CODE), message,
                segment.offset, segment.tag, position, element=element,
                element_ref=place.element_ref, bad_value=segment.text(element),
            )  # fmt: skip
    position, anchor = scope.anchor
    return Finding("segment", "3", message, anchor.offset, place.segment, position)


def _unplaced(scope: _Scope, message: str) -> Finding:
    """A problem with no place: AK304 8 on the set's first segment after ST."""
    position, segment = scope.segments[0]
    return Finding("segment", "8", message, segment.offset, segment.tag, position)


def _named_element(transaction: Transaction, text: str, message: str) -> Finding | None:
    """The first element a mapping error names (``CTT01 '2' does not match...``) whose
    segment occurs once in the set, as an element finding; None when there is none."""
    body = list(enumerate(transaction.segments, start=2))
    for tag, number in _ELEMENT_NAME.findall(text):
        matches = [(position, seg) for position, seg in body if seg.tag == tag]
        if len(matches) == 1 and int(number) > 0:
            position, segment = matches[0]
            return Finding(
                "element", DEFAULT_ELEMENT_CODE, message, segment.offset, segment.tag,
                position, element=int(number), bad_value=segment.text(int(number)),
            )  # fmt: skip
    return None


# -- the answer ------------------------------------------------------------------------------


def _addressed(
    isa: InterchangeReport, sender: tuple[str, str], receiver: tuple[str, str]
) -> InterchangeReport:
    """``isa`` as if sent by ``receiver`` to ``sender``, so that the acknowledgment builders
    (which swap the parties) address the answer from ``sender`` to ``receiver``."""
    header = list(isa.header) + [""] * (16 - len(isa.header))
    header[4:8] = [receiver[0], receiver[1].ljust(15), sender[0], sender[1].ljust(15)]
    return replace(isa, header=tuple(header))


def _answers(
    report: ValidationReport,
    *,
    sender: tuple[str, str],
    receiver: tuple[str, str],
    when: datetime,
    interchange_control_number: int,
    group_control_number: int,
) -> list[Interchange]:
    """Per interchange of ``report``: a TA1 when its envelope is rejected, else one
    interchange holding a 997 group per functional group (none for a group of 997s)."""
    answers: list[Interchange] = []
    groups_built = 0
    for isa in report.interchanges:
        addressed = _addressed(isa, sender, receiver)
        number = interchange_control_number + len(answers)
        if ta1_code(isa) != "000":
            answers.append(build_ta1(addressed, interchange_control_number=number, when=when))
            continue
        built = []
        for group in isa.groups:
            ack = build_997(
                addressed, group, interchange_control_number=number,
                group_control_number=group_control_number + groups_built, when=when,
            )  # fmt: skip
            if ack is not None:
                built.append(ack)
                groups_built += 1
        if built:
            groups = tuple(g for ack in built for g in ack.groups)
            answers.append(replace(built[0], groups=groups))
    return answers


__all__ = [
    "CHECKED_SETS",
    "DEFAULT_ELEMENT_CODE",
    "ELEMENT_CODES",
    "NOT_MAPPABLE",
    "PLACES",
    "UNKNOWN_PURCHASE_ORDER",
    "Place",
    "Verdict",
    "business_problems",
    "check_interchange",
    "finding_for",
]
