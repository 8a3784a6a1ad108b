"""997 Functional Acknowledgment <-> :class:`~gateway.erp.FunctionalAck` (amazon-x12.md
section 7), at 004010 or 005010 (a 997 has the same structure at both; Amazon answers a
5010 856 group with a 5010 997).

Layout (``maps/997.4010.xml``)::

    AK1*<GS01>*<GS06>                              the acknowledged group
    AK2*<ST01>*<ST02>                              per acknowledged set
      AK3*<segment id>*<position>*<loop id>*<code> per segment in error
        AK4*<position[>component]>*<element ref>*<code>*<bad value>
      AK5*<A|E|R...>*<AK502..AK506 codes>
    AK9*<A|E|P|R...>*<included>*<received>*<accepted>*<AK905..AK909 codes>

Statuses are read with :data:`~gateway.erp.functional_ack.ACK_STATUSES` (M, W and X are
rejections) and written as A, E, P or R. ``to_erp`` reads what ``from_erp`` writes, so
``to_erp(from_erp(ack)) == ack``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from gateway.erp import FunctionalAck, Source, problems_of
from gateway.erp.functional_ack import ACK_STATUSES
from gateway.errors import MappingError
from gateway.mapping.common import optional, segment
from gateway.x12 import Composite, Element, Repeated, Segment, Transaction

SET_ID = "997"
#: GS08 releases a 997 is written at (the release of the group it acknowledges).
RELEASES = ("004010", "005010")
#: AK501 / AK901 written for each status (X12 elements 717 and 715).
STATUS_CODES: dict[str, str] = {
    "accepted": "A",
    "accepted_with_errors": "E",
    "partially_accepted": "P",
    "rejected": "R",
}


# -- ERP -> X12 ------------------------------------------------------------------------------


def from_erp(document: FunctionalAck, *, release: str = "004010") -> list[Segment]:
    """The segments between ST and SE of the 997 carrying ``document`` (``source`` is
    envelope data and is not written); MappingError for a release other than 004010 or
    005010."""
    if release not in RELEASES:
        raise MappingError(f"GS08 {release!r}: the 997 is mapped at {' and '.join(RELEASES)} only")
    body = [segment("AK1", document.functional_id, document.group_control_number)]
    for acked in document.transactions:
        body.append(segment("AK2", acked.set_id, acked.control_number))
        for seg in acked.segments:
            body.append(segment("AK3", seg.segment_id, seg.position, seg.loop_id, seg.code))
            for element in seg.elements:
                where: Element = str(element.position)
                if element.component is not None:
                    where = Composite((str(element.position), str(element.component)))
                body.append(
                    segment("AK4", where, element.reference, element.code, element.bad_value)
                )
        body.append(segment("AK5", STATUS_CODES[acked.status], *acked.codes))
    body.append(
        segment("AK9", STATUS_CODES[document.status], document.sets_included,
                document.sets_received, document.sets_accepted, *document.codes)
    )  # fmt: skip
    return body


# -- X12 -> ERP ------------------------------------------------------------------------------


def _fail(transaction: Transaction, position: int, seg: Segment, message: str) -> MappingError:
    """An error located at the segment's position in the set (ST = 1), as AK302 counts."""
    return MappingError(
        f"997 {transaction.control_number}, segment {position} ({seg.tag}): {message}"
    )


def _number(text: str, where: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{where} {text!r} is not a whole number")
    return int(text)


def _status(code: str, where: str) -> str:
    status = ACK_STATUSES.get(code)
    if status is None:
        raise ValueError(f"{where} {code!r} is not one of {', '.join(ACK_STATUSES)}")
    return status


def _codes(seg: Segment, first: int, last: int) -> list[str]:
    """The non-empty codes in elements ``first``..``last``."""
    return [seg.text(i) for i in range(first, last + 1) if seg.text(i)]


def _element_position(value: Element) -> tuple[int, int | None]:
    """AK401: an element position, or a composite ``position>component``."""
    if isinstance(value, Repeated):
        raise ValueError("AK401 cannot repeat")
    if isinstance(value, Composite):
        if len(value.components) > 2:
            raise ValueError("AK401 has more than two components")
        position, component = value.components
        return _number(position, "AK401-1"), _number(component, "AK401-2")
    return _number(value, "AK401"), None


class _Reader:
    """The 997 read segment by segment: AK1, (AK2, (AK3, AK4*)*, AK5)*, AK9."""

    def __init__(self) -> None:
        self.ack: dict[str, Any] = {}
        self.current: dict[str, Any] | None = None
        self.seg_error: dict[str, Any] | None = None
        self.done = False

    def read(self, seg: Segment) -> None:
        """Take one segment; ValueError says what is wrong with it."""
        if self.done:
            raise ValueError("nothing may follow AK9")
        if not self.ack and seg.tag != "AK1":
            raise ValueError("a 997 starts with AK1")
        handlers = {"AK1": self._ak1, "AK2": self._ak2, "AK3": self._ak3, "AK4": self._ak4,
                    "AK5": self._ak5, "AK9": self._ak9}  # fmt: skip
        if seg.tag not in handlers:
            raise ValueError("not a segment of the 997")
        handlers[seg.tag](seg)

    def _ak1(self, seg: Segment) -> None:
        if self.ack:
            raise ValueError("AK1 is used twice")
        self.ack = {"functional_id": seg.text(1), "group_control_number": seg.text(2),
                    "transactions": []}  # fmt: skip

    def _ak2(self, seg: Segment) -> None:
        if self.current is not None:
            raise ValueError("the previous AK2 loop has no AK5")
        self.current = {"set_id": seg.text(1), "control_number": seg.text(2), "segments": []}
        self.seg_error = None

    def _ak3(self, seg: Segment) -> None:
        if self.current is None:
            raise ValueError("AK3 outside an AK2 loop")
        self.seg_error = {
            "segment_id": seg.text(1), "position": _number(seg.text(2), "AK302"),
            "loop_id": optional(seg, 3), "code": optional(seg, 4), "elements": [],
        }  # fmt: skip
        self.current["segments"].append(self.seg_error)

    def _ak4(self, seg: Segment) -> None:
        if self.seg_error is None:
            raise ValueError("AK4 without its AK3")
        position, component = _element_position(seg.element(1))
        self.seg_error["elements"].append({
            "position": position, "component": component, "reference": optional(seg, 2),
            "code": seg.text(3), "bad_value": optional(seg, 4),
        })  # fmt: skip

    def _ak5(self, seg: Segment) -> None:
        if self.current is None:
            raise ValueError("AK5 outside an AK2 loop")
        self.current["status"] = _status(seg.text(1), "AK501")
        self.current["codes"] = _codes(seg, 2, 6)
        self.ack["transactions"].append(self.current)
        self.current = self.seg_error = None

    def _ak9(self, seg: Segment) -> None:
        if self.current is not None:
            raise ValueError("the last AK2 loop has no AK5")
        self.ack.update(
            status=_status(seg.text(1), "AK901"),
            sets_included=_number(seg.text(2), "AK902"),
            sets_received=_number(seg.text(3), "AK903"),
            sets_accepted=_number(seg.text(4), "AK904"),
            codes=_codes(seg, 5, 9),
        )
        self.done = True


def to_erp(transaction: Transaction, source: Source | None = None) -> FunctionalAck:
    """The FunctionalAck a 997 carries, with ``source`` (where it came from) attached.

    Raises MappingError naming the segment position (ST = 1) and element when the set is
    not AK1, (AK2, (AK3, AK4*)*, AK5)*, AK9, or a code, count or position cannot be read.
    """
    reader = _Reader()
    for position, seg in enumerate(transaction.segments, 2):
        try:
            reader.read(seg)
        except ValueError as exc:
            raise _fail(transaction, position, seg, str(exc)) from None
    if not reader.ack:
        raise MappingError(f"997 {transaction.control_number} has no AK1")
    if not reader.done:
        raise MappingError(f"997 {transaction.control_number} has no AK9")
    data = dict(reader.ack)
    if source is not None:
        data["source"] = source
    try:
        return FunctionalAck.model_validate(data)
    except ValidationError as exc:
        found = "; ".join(str(p) for p in problems_of(exc))
        raise MappingError(
            f"997 {transaction.control_number}: content does not fit a FunctionalAck: {found}"
        ) from exc


__all__ = ["RELEASES", "SET_ID", "STATUS_CODES", "from_erp", "to_erp"]
