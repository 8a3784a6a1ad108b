"""Segments to envelope events, with the envelope checks of X12.5/X12.6.

:func:`read_events` turns a byte stream into a flat stream of events (an interchange
opens, a group opens, a transaction set was read, a group closes, an interchange closes)
while holding only the current transaction set in memory. :class:`DocumentBuilder` builds
the whole tree from the same events, one at a time; :func:`parse` is the two together.

Two modes of :func:`read_events`:

* ``whole_sets=True`` (the default): each transaction set is yielded whole, as one
  :class:`TransactionRead`; memory holds one set.
* ``whole_sets=False``: memory holds one segment, not one set, so that a set of any length
  (an 850 of 100,000 lines) is read in bounded memory. At an ST a :class:`TransactionStart`
  is yielded, then one :class:`SegmentRead` per segment of the set's body (between ST and
  SE), then at the SE (or where the SE should have been) the :class:`TransactionRead`,
  whose ``transaction.segments`` is ``()`` and whose issues are exactly those of the
  other mode (SE01 is checked against a count of the segments read). Every other event is
  the same in both modes. :class:`DocumentBuilder` takes only whole-set events.

Envelope checks, each reported as an :class:`EnvelopeIssue` with the code X12 uses for it:

======================================================  ===========  =====
check                                                   level        code
======================================================  ===========  =====
ISA fixed width, ISA field values                       interchange  TA1 005-027
IEA02 = ISA13                                           interchange  TA1 001
IEA01 = number of GS                                    interchange  TA1 021
IEA present                                             interchange  TA1 023
no segment outside GS..GE / ST..SE                      interchange  TA1 024
no repeated sender + ISA13 in one input                 interchange  TA1 025
GE02 = GS06                                             group        AK905 4
GE01 = number of ST                                     group        AK905 5
GS06 numeric, 1-9 digits                                group        AK905 6
GS06 unique within the interchange                      group        AK905 19
GE present                                              group        AK905 3
ST01 belongs to GS01's functional group                 transaction  AK502 1
SE present                                              transaction  AK502 2
SE02 = ST02                                             transaction  AK502 3
SE01 = number of segments ST..SE                        transaction  AK502 4
ST02 unique within the group                            transaction  AK502 23
======================================================  ===========  =====
"""

from __future__ import annotations

import io
from collections import namedtuple
from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

from gateway.errors import X12SyntaxError
from gateway.x12.lexer import DEFAULT_MAX_SEGMENT, Lexer
from gateway.x12.model import (
    FUNCTIONAL_GROUP_OF_SET,
    Delimiters,
    EnvelopeIssue,
    FunctionalGroup,
    Interchange,
    RecordTuple,
    Segment,
    Transaction,
    X12Document,
)

#: Interchange-level segments allowed between ISA and the first GS: security (ISB/ISE,
#: X12.58) and interchange acknowledgments (TA1, TA3).
SERVICE_SEGMENTS = frozenset({"ISB", "ISE", "TA1", "TA3"})
#: The segments that open or close an envelope; every other segment is content.
_ENVELOPE_TAGS = frozenset({"ISA", "IEA", "GS", "GE", "ST", "SE"})
_TAG = itemgetter(0)  # a Segment's tag


@dataclass(frozen=True)
class InterchangeStart:
    """An ISA was read; ``issues`` are its field problems."""

    header: Segment
    delimiters: Delimiters
    issues: tuple[EnvelopeIssue, ...]


@dataclass(frozen=True)
class GroupStart:
    """A GS was read."""

    header: Segment


@dataclass(frozen=True)
class TransactionStart:
    """An ST opened a transaction set (``read_events(whole_sets=False)`` only).

    Its body follows as :class:`SegmentRead` events, then its :class:`TransactionRead`.
    """

    header: Segment


class SegmentRead(RecordTuple, namedtuple("_SegmentReadFields", ("segment",), module=__name__)):
    """One segment of a transaction set's body, between ST and SE
    (``read_events(whole_sets=False)`` only).

    An immutable record like the other events, compared by class and field; a named tuple
    underneath, not a dataclass, because one is made per segment read and a tuple is built
    several times faster.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self[0] == other[0]
        return False if isinstance(other, tuple) else NotImplemented

    def __ne__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return not self[0] == other[0]
        return True if isinstance(other, tuple) else NotImplemented

    def __hash__(self) -> int:
        return hash((self[0],))

    def __repr__(self) -> str:
        return f"SegmentRead(segment={self[0]!r})"


@dataclass(frozen=True)
class TransactionRead:
    """A whole transaction set (ST..SE, or ST.. when SE is missing) was read.

    With ``read_events(whole_sets=False)`` the body was yielded before as
    :class:`SegmentRead` events and ``transaction.segments`` is ``()``.
    """

    transaction: Transaction


@dataclass(frozen=True)
class GroupEnd:
    """A functional group ended (at its GE, or where the GE should have been)."""

    header: Segment
    trailer: Segment | None
    issues: tuple[EnvelopeIssue, ...]


@dataclass(frozen=True)
class InterchangeEnd:
    """An interchange ended (at its IEA, or where the IEA should have been).

    ``service_segments`` are the interchange-level segments read outside any group.
    """

    header: Segment
    trailer: Segment | None
    issues: tuple[EnvelopeIssue, ...]
    service_segments: tuple[Segment, ...] = ()


@dataclass(frozen=True)
class DocumentIssue:
    """A problem that stopped reading (the input is not, or no longer, X12)."""

    issue: EnvelopeIssue


Event = (
    InterchangeStart
    | GroupStart
    | TransactionStart
    | SegmentRead
    | TransactionRead
    | GroupEnd
    | InterchangeEnd
    | DocumentIssue
)


class _OpenGroup:
    __slots__ = ("control_numbers", "functional_id", "header", "issues", "set_count")

    def __init__(self, header: Segment, issues: list[EnvelopeIssue]) -> None:
        self.header = header
        self.functional_id = header.text(1)  # GS01, checked against every ST01
        self.issues = issues
        self.set_count = 0
        self.control_numbers: set[str] = set()


class _OpenTransaction:
    """The set being read: its body (whole sets) or only a count of it (streaming)."""

    __slots__ = ("body", "control_number", "count", "header", "issues")

    def __init__(
        self,
        header: Segment,
        control_number: str,
        issues: list[EnvelopeIssue],
        body: list[Segment] | None,
    ) -> None:
        self.header = header
        self.control_number = control_number  # ST02, checked against SE02
        self.issues = issues
        self.body = body
        self.count = 0  # body segments read, when the body is not kept


class _OpenInterchange:
    __slots__ = ("group_count", "group_numbers", "header", "issues", "service_segments")

    def __init__(self, header: Segment, issues: list[EnvelopeIssue]) -> None:
        self.header = header
        self.issues = issues
        self.service_segments: list[Segment] = []
        self.group_count = 0
        self.group_numbers: set[str] = set()


def _transaction_read(txn: _OpenTransaction, trailer: Segment | None, at: int) -> TransactionRead:
    """The event of a set that was just closed, at its SE ``trailer`` or (without one) at
    offset ``at``, with its SE checks."""
    header = txn.header
    body = txn.body
    if trailer is None:
        txn.issues.append(
            EnvelopeIssue("transaction", "2",
                          f"transaction set {txn.control_number!r} has no SE trailer", at, "SE")
        )  # fmt: skip
    else:
        count = (len(body) if body is not None else txn.count) + 2
        declared = trailer.text(1)
        if declared != str(count) and not (declared.isdigit() and int(declared) == count):
            txn.issues.append(
                EnvelopeIssue("transaction", "4",
                              f"SE01 says {declared!r} segments, the set has {count}",
                              trailer.offset, "SE", "SE01")
            )  # fmt: skip
        se02, st02 = trailer.text(2), txn.control_number
        if se02 != st02:
            txn.issues.append(
                EnvelopeIssue("transaction", "3", f"SE02 {se02!r} does not match ST02 {st02!r}",
                              trailer.offset, "SE", "SE02")
            )  # fmt: skip
    segments = tuple(body) if body is not None else ()
    return TransactionRead(Transaction(header, segments, trailer, tuple(txn.issues)))


class _EnvelopeReader:
    """The state machine behind :func:`read_events`."""

    def __init__(self, *, whole_sets: bool = True) -> None:
        self.whole_sets = whole_sets
        self.isa: _OpenInterchange | None = None
        self.group: _OpenGroup | None = None
        self.txn: _OpenTransaction | None = None
        self.seen_interchanges: set[tuple[str, str, str]] = set()

    # -- closing ---------------------------------------------------------------------

    def close_transaction(self, trailer: Segment | None, at: int) -> TransactionRead | None:
        """Close the open set, if any (at its SE ``trailer``, or at ``at`` without one): its
        event, None when no set is open. A function, not a generator like the other
        closings, because it runs at every set."""
        txn = self.txn
        if txn is None:
            return None
        self.txn = None
        return _transaction_read(txn, trailer, at)

    def close_group(self, trailer: Segment | None, at: int) -> Iterator[Event]:
        event = self.close_transaction(None, at)
        if event is not None:
            yield event
        group = self.group
        if group is None:
            return
        self.group = None
        gs06 = group.header.text(6)
        if trailer is None:
            group.issues.append(
                EnvelopeIssue("group", "3", f"functional group {gs06!r} has no GE trailer",
                              at, "GE")
            )  # fmt: skip
        else:
            declared = trailer.text(1)
            if not (declared.isdigit() and int(declared) == group.set_count):
                group.issues.append(
                    EnvelopeIssue("group", "5",
                                  f"GE01 says {declared!r} transaction sets, the group has"
                                  f" {group.set_count}", trailer.offset, "GE", "GE01")
                )  # fmt: skip
            if trailer.text(2) != gs06:
                group.issues.append(
                    EnvelopeIssue("group", "4",
                                  f"GE02 {trailer.text(2)!r} does not match GS06 {gs06!r}",
                                  trailer.offset, "GE", "GE02")
                )  # fmt: skip
        yield GroupEnd(group.header, trailer, tuple(group.issues))

    def close_interchange(self, trailer: Segment | None, at: int) -> Iterator[Event]:
        yield from self.close_group(None, at)
        isa = self.isa
        if isa is None:
            return
        self.isa = None
        isa13 = isa.header.text(13)
        if trailer is None:
            isa.issues.append(
                EnvelopeIssue("interchange", "023",
                              f"interchange {isa13!r} has no IEA trailer (input ends early)",
                              at, "IEA")
            )  # fmt: skip
        else:
            declared = trailer.text(1)
            if not (declared.isdigit() and int(declared) == isa.group_count):
                isa.issues.append(
                    EnvelopeIssue("interchange", "021",
                                  f"IEA01 says {declared!r} functional groups, the"
                                  f" interchange has {isa.group_count}",
                                  trailer.offset, "IEA", "IEA01")
                )  # fmt: skip
            if trailer.text(2) != isa13:
                isa.issues.append(
                    EnvelopeIssue("interchange", "001",
                                  f"IEA02 {trailer.text(2)!r} does not match ISA13 {isa13!r}",
                                  trailer.offset, "IEA", "IEA02")
                )  # fmt: skip
        yield InterchangeEnd(isa.header, trailer, tuple(isa.issues), tuple(isa.service_segments))

    # -- opening ---------------------------------------------------------------------

    def orphan(self, segment: Segment, where: str) -> None:
        assert self.isa is not None
        self.isa.issues.append(
            EnvelopeIssue("interchange", "024",
                          f"segment {segment.tag} is outside {where}", segment.offset,
                          segment.tag)
        )  # fmt: skip

    def open_interchange(self, header: Segment, issues: tuple[EnvelopeIssue, ...]) -> None:
        found = list(issues)
        key = (header.text(5), header.text(6).strip(), header.text(13))
        if key in self.seen_interchanges:
            found.append(
                EnvelopeIssue("interchange", "025",
                              f"interchange control number ISA13 {key[2]!r} from sender"
                              f" {key[1]!r} is repeated in this input", header.offset, "ISA",
                              "ISA13")
            )  # fmt: skip
        self.seen_interchanges.add(key)
        self.isa = _OpenInterchange(header, found)

    def open_group(self, header: Segment) -> None:
        assert self.isa is not None
        gs06 = header.text(6)
        issues = []
        if not (gs06.isdigit() and 1 <= len(gs06) <= 9):
            issues.append(
                EnvelopeIssue("group", "6", f"GS06 {gs06!r} is not a 1-9 digit number",
                              header.offset, "GS", "GS06")
            )  # fmt: skip
        if gs06 in self.isa.group_numbers:
            issues.append(
                EnvelopeIssue("group", "19",
                              f"GS06 {gs06!r} is used by an earlier group of this interchange",
                              header.offset, "GS", "GS06")
            )  # fmt: skip
        self.isa.group_numbers.add(gs06)
        self.isa.group_count += 1
        self.group = _OpenGroup(header, issues)

    def open_transaction(self, header: Segment) -> None:
        assert self.group is not None
        issues = []
        st01, st02 = header.text(1), header.text(2)
        expected = FUNCTIONAL_GROUP_OF_SET.get(st01)
        gs01 = self.group.functional_id
        if expected is not None and expected != gs01:
            issues.append(
                EnvelopeIssue("transaction", "1",
                              f"transaction set {st01} belongs in a functional group {expected},"
                              f" not in GS01 {gs01!r}", header.offset, "ST", "ST01")
            )  # fmt: skip
        if st02 in self.group.control_numbers:
            issues.append(
                EnvelopeIssue("transaction", "23",
                              f"ST02 {st02!r} is used by an earlier set of this group",
                              header.offset, "ST", "ST02")
            )  # fmt: skip
        self.group.control_numbers.add(st02)
        self.group.set_count += 1
        self.txn = _OpenTransaction(header, st02, issues, [] if self.whole_sets else None)

    # -- driving ---------------------------------------------------------------------

    def read(self, lexer: Lexer) -> Iterator[Event]:
        """The events of the segments of ``lexer``, as :func:`read_events` describes.

        The lexer's segments come in lists (see :meth:`Lexer.batches`). The body of an
        open set (the bulk of any input) takes the short way: the envelope segments of a
        list are found in one pass over its tags, and the run of segments between two of
        them is added to the set's body in one ``extend`` (or one SegmentRead each when
        streaming); envelope segments and segments outside any set go through
        :meth:`envelope`.
        """
        is_envelope = _ENVELOPE_TAGS.__contains__
        body: list[Segment] | None = None  # the open set's body, when it is kept
        txn: _OpenTransaction | None = None  # the open set
        try:
            for batch in lexer.batches():
                # True at each envelope segment of the list: the runs between are content.
                marks = list(map(is_envelope, map(_TAG, batch)))
                end = len(batch)
                at = 0
                while at < end:
                    try:
                        envelope_at = marks.index(True, at)
                    except ValueError:
                        envelope_at = end
                    if at < envelope_at:
                        if body is not None:
                            body += batch[at:envelope_at]
                        else:
                            yield from self.content(batch[at:envelope_at], txn)
                    if envelope_at == end:
                        break
                    segment = batch[envelope_at]
                    tag = segment[0]
                    # The ST and SE of every set take the short way; see envelope().
                    if tag == "SE" and txn is not None:
                        self.txn = None
                        yield _transaction_read(txn, segment, segment[2])
                    elif tag == "ST" and txn is None and self.group is not None:
                        self.open_transaction(segment)
                        if not self.whole_sets:
                            yield TransactionStart(segment)
                    else:
                        yield from self.envelope(segment, tag, lexer)
                    txn = self.txn
                    body = txn.body if txn is not None else None
                    at = envelope_at + 1
        except X12SyntaxError as exc:
            yield DocumentIssue(
                EnvelopeIssue("document", "022" if exc.segment else "024", exc.message,
                              exc.offset, exc.segment or "")
            )  # fmt: skip
            return
        yield from self.close_interchange(None, lexer.offset)

    def content(self, segments: list[Segment], txn: _OpenTransaction | None) -> Iterator[Event]:
        """Events of non-envelope segments read while no set body is kept: one SegmentRead
        each inside a streamed set, none outside a set (see :meth:`outside`)."""
        if txn is not None:
            txn.count += len(segments)
            new = tuple.__new__
            for segment in segments:
                yield new(SegmentRead, (segment,))
        else:
            for segment in segments:
                self.outside(segment)

    def envelope(self, segment: Segment, tag: str, lexer: Lexer) -> Iterator[Event]:
        """Events of an ISA, IEA, GS, GE, ST or SE segment."""
        if tag == "ISA":
            yield from self.close_interchange(None, segment.offset)
            issues = lexer.isa_issues if segment is lexer.isa else ()
            self.open_interchange(segment, issues)
            assert self.isa is not None and lexer.delimiters is not None
            yield InterchangeStart(segment, lexer.delimiters, tuple(self.isa.issues))
        elif tag == "IEA":
            yield from self.close_interchange(segment, segment.offset)
        elif tag == "GS":
            yield from self.close_group(None, segment.offset)
            self.open_group(segment)
            yield GroupStart(segment)
        elif tag == "GE":
            if self.group is None:
                self.orphan(segment, "a functional group (GE without GS)")
                return
            yield from self.close_group(segment, segment.offset)
        elif tag == "ST":
            event = self.close_transaction(None, segment.offset)
            if event is not None:
                yield event
            if self.group is None:
                self.orphan(segment, "a functional group (ST without GS)")
                return
            self.open_transaction(segment)
            if not self.whole_sets:
                yield TransactionStart(segment)
        elif self.txn is not None:  # SE
            txn, self.txn = self.txn, None
            yield _transaction_read(txn, segment, segment.offset)
        else:
            self.outside(segment)

    def outside(self, segment: Segment) -> None:
        """A segment that is not an envelope segment, read while no set is open."""
        assert self.isa is not None
        if segment.tag in SERVICE_SEGMENTS and self.isa.group_count == 0:
            # X12.5: TA1 and the ISB/ISE service requests follow the ISA and precede the
            # first GS; after a group they are orphans like any other segment.
            self.isa.service_segments.append(segment)
        elif self.group is not None:
            self.orphan(segment, "a transaction set (not between ST and SE)")
        else:
            self.orphan(segment, "a functional group (not between GS and GE)")


def read_events(
    stream: BinaryIO,
    *,
    max_segment: int = DEFAULT_MAX_SEGMENT,
    chunk_size: int = 1 << 16,
    whole_sets: bool = True,
) -> Iterator[Event]:
    """Read ``stream`` and yield envelope events in input order.

    Memory holds one transaction set at a time, or one segment with ``whole_sets=False``
    (see the module docstring). Reading never raises for bad input: where the input stops
    being X12, a single :class:`DocumentIssue` is yielded and the events end (structures
    left open are dropped without further issues, so that the one cause is reported once).
    """
    # The reader's generator itself, so that each event is passed on by one frame only.
    lexer = Lexer(stream, max_segment=max_segment, chunk_size=chunk_size)
    return _EnvelopeReader(whole_sets=whole_sets).read(lexer)


class DocumentBuilder:
    """Builds the :class:`X12Document` of a stream of events, given one at a time.

    ``add`` every event of :func:`read_events` in order, then ``document()`` is the tree
    (what :func:`parse` returns); ``document()`` may be asked at any point and holds the
    interchanges ended so far. Only whole-set events are supported: the events of
    ``read_events(whole_sets=False)`` carry no set bodies, so :class:`TransactionStart`
    and :class:`SegmentRead` raise ``TypeError`` rather than build empty sets.
    """

    def __init__(self) -> None:
        self._interchanges: list[Interchange] = []
        self._issues: list[EnvelopeIssue] = []
        self._groups: list[FunctionalGroup] = []
        self._transactions: list[Transaction] = []
        self._delimiters = Delimiters()

    def add(self, event: Event) -> None:
        """Take the next event."""
        if isinstance(event, TransactionRead):
            self._transactions.append(event.transaction)
        elif isinstance(event, InterchangeStart):
            self._groups, self._delimiters = [], event.delimiters
        elif isinstance(event, GroupStart):
            self._transactions = []
        elif isinstance(event, GroupEnd):
            self._groups.append(
                FunctionalGroup(event.header, tuple(self._transactions), event.trailer,
                                event.issues)
            )  # fmt: skip
        elif isinstance(event, InterchangeEnd):
            self._interchanges.append(
                Interchange(event.header, tuple(self._groups), event.trailer, self._delimiters,
                            event.issues, event.service_segments)
            )  # fmt: skip
        elif isinstance(event, DocumentIssue):
            self._issues.append(event.issue)
        elif isinstance(event, TransactionStart | SegmentRead):
            raise TypeError(
                f"DocumentBuilder takes whole-set events only, not {type(event).__name__}"
                " (read the events with whole_sets=True)"
            )
        else:
            raise TypeError(f"not an event of read_events: {event!r}")

    def document(self) -> X12Document:
        """The tree of the events added so far."""
        return X12Document(tuple(self._interchanges), tuple(self._issues))


def parse(source: bytes | str | Path | BinaryIO, **options: int) -> X12Document:
    """Read a whole input into an :class:`X12Document` tree.

    ``source`` is bytes, a path, or a binary stream; ``options`` are those of
    :func:`read_events` (``max_segment``, ``chunk_size``). Envelope issues are attached to
    the node they concern; problems that stop reading are in ``X12Document.issues``.
    """
    if isinstance(source, str | Path):
        with open(source, "rb") as stream:
            return parse(stream, **options)
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    builder = DocumentBuilder()
    add = builder.add
    for event in read_events(stream, **options):
        add(event)
    return builder.document()
