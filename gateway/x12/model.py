"""The X12 tree: Interchange > FunctionalGroup > Transaction > Segment.

All nodes are immutable: frozen dataclasses, and :class:`Segment` a named tuple (it is
built once per segment read, so it must be cheap). Byte offsets and envelope issues are
carried for reporting but excluded from equality, so that a tree read back from its own
serialisation compares equal to the original (``parse(write(t)) == t``).

Element values:

* a simple element is a ``str``;
* a composite element is a :class:`Composite` of two or more component strings;
* a repeated element (ISA11 repetition separator, 00402 and later) is a
  :class:`Repeated` of two or more ``str`` / :class:`Composite` values.

Trailing empty elements and components are not transmitted (X12.6 section 3.6), so
the canonical tree has none and the writer never emits them. The reader keeps what was
sent (``N1*ST*~`` reads as ``("ST", "")``) so that validation can report the stray
delimiter; such a tree is written back without it.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import FrozenInstanceError, dataclass, field
from typing import Union

#: Functional identifier code (GS01) of each transaction set this gateway trades.
#: X12 004010 element 479; used to check that ST01 belongs to its GS01.
FUNCTIONAL_GROUP_OF_SET: dict[str, str] = {
    "810": "IN",
    "812": "CD",
    "820": "RA",
    "846": "IB",
    "850": "PO",
    "852": "PD",
    "855": "PR",
    "856": "SH",
    "860": "PC",
    "865": "CA",
    "753": "GF",
    "754": "RO",
    "997": "FA",
    "999": "FA",
    "204": "SM",
    "837": "HC",
    "835": "HP",
}


@dataclass(frozen=True)
class Delimiters:
    """The separators of one interchange, read from its ISA (X12.5 section 3).

    ``repetition`` is ``None`` before 00402, where ISA11 is the standards identifier.
    """

    element: str = "*"
    component: str = ">"
    segment: str = "~"
    repetition: str | None = None

    def all(self) -> tuple[str, ...]:
        """Every delimiter character in use."""
        chars = [self.element, self.component, self.segment]
        if self.repetition is not None:
            chars.append(self.repetition)
        return tuple(chars)


@dataclass(frozen=True)
class Composite:
    """A composite data element: its components in order (two or more)."""

    components: tuple[str, ...]


@dataclass(frozen=True)
class Repeated:
    """A repeated data element: its repetitions in order (two or more)."""

    values: tuple[Union[str, Composite], ...]  # noqa: UP007 - a forward reference inside a union


Element = Union[str, Composite, Repeated]  # noqa: UP007 - used at runtime by isinstance checks


def element_text(value: Element) -> str:
    """The value of an element as plain text: the first component / first repetition.

    Convenient where the map says the element is simple; composites and repetitions are
    reduced to their first value so that lookups never raise.
    """
    if isinstance(value, Repeated):
        value = value.values[0]
    if isinstance(value, Composite):
        return value.components[0]
    return value


class RecordTuple:
    """Mixin for a named tuple that stands for a frozen dataclass: not ordered (tuple's
    ordering switched off, as a dataclass without ``order=True``) and raising
    :class:`dataclasses.FrozenInstanceError` on assignment. Put it first among the bases;
    the class still defines its own ``__eq__``, ``__ne__`` and ``__hash__``."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        return NotImplemented

    __le__ = __gt__ = __ge__ = __lt__

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")


_SegmentFields = namedtuple(
    "_SegmentFields", ("tag", "elements", "offset"), defaults=((), -1), module=__name__
)


class Segment(RecordTuple, _SegmentFields):
    """One segment: its id (``tag``) and its elements, ``elements[0]`` being element 01.

    ``offset`` is the byte offset of the segment's first byte in the input (``-1`` for a
    segment that was built, not read).

    Immutable, and like every node compared and hashed without its ``offset``. It is a
    named tuple underneath, not a dataclass, because the reader builds one per segment and
    a tuple is built several times faster than a frozen dataclass; treat it as a record
    (``tag``, ``elements``, ``offset``), never as a sequence.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self[0] == other[0] and self[1] == other[1]
        # Never equal to a plain tuple (tuple's reflected __eq__ would say so).
        return False if isinstance(other, tuple) else NotImplemented

    # tuple's own __ne__ would compare the offset: it must be replaced along with __eq__.
    def __ne__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return not (self[0] == other[0] and self[1] == other[1])
        return True if isinstance(other, tuple) else NotImplemented

    def __hash__(self) -> int:
        return hash((self[0], self[1]))

    def __repr__(self) -> str:
        return f"Segment(tag={self[0]!r}, elements={self[1]!r}, offset={self[2]!r})"

    def element(self, position: int) -> Element:
        """Element at 1-based ``position`` (``""`` when absent)."""
        elements = self[1]
        if 1 <= position <= len(elements):
            return elements[position - 1]
        return ""

    def text(self, position: int) -> str:
        """Element at 1-based ``position`` as text (see :func:`element_text`)."""
        elements = self[1]
        if 1 <= position <= len(elements):
            value = elements[position - 1]
            return value if value.__class__ is str else element_text(value)
        return ""


@dataclass(frozen=True)
class EnvelopeIssue:
    """An envelope problem found while reading (data, never raised).

    ``level`` is ``interchange``, ``group`` or ``transaction``. ``code`` is the X12 code
    that reports it at that level: a TA1 note code (I18, e.g. ``001``) for an interchange,
    an AK905 code (716) for a group, an AK502 code (718) for a transaction set.
    ``element`` names the element at fault (``GE01``) when there is one.
    """

    level: str
    code: str
    message: str
    offset: int
    segment: str
    element: str | None = None


@dataclass(frozen=True)
class Transaction:
    """A transaction set: ST, the segments between, SE (``None`` when missing)."""

    header: Segment
    segments: tuple[Segment, ...]
    trailer: Segment | None
    issues: tuple[EnvelopeIssue, ...] = field(default=(), compare=False)

    @property
    def set_id(self) -> str:
        """ST01, the transaction set identifier code (e.g. ``850``)."""
        return self.header.text(1)

    @property
    def control_number(self) -> str:
        """ST02, the transaction set control number."""
        return self.header.text(2)

    def all_segments(self) -> tuple[Segment, ...]:
        """ST, body and SE (when present), in order."""
        tail = (self.trailer,) if self.trailer is not None else ()
        return (self.header, *self.segments, *tail)


@dataclass(frozen=True)
class FunctionalGroup:
    """A functional group: GS, its transaction sets, GE (``None`` when missing)."""

    header: Segment
    transactions: tuple[Transaction, ...]
    trailer: Segment | None
    issues: tuple[EnvelopeIssue, ...] = field(default=(), compare=False)

    @property
    def functional_id(self) -> str:
        """GS01, the functional identifier code (e.g. ``PO``)."""
        return self.header.text(1)

    @property
    def control_number(self) -> str:
        """GS06, the group control number."""
        return self.header.text(6)

    @property
    def version(self) -> str:
        """GS08, the version / release / industry identifier code (e.g. ``004010``)."""
        return self.header.text(8)


@dataclass(frozen=True)
class Interchange:
    """An interchange: ISA, its functional groups, IEA (``None`` when missing).

    The ISA's elements are kept exactly as read, padding included (they are fixed width).
    """

    header: Segment
    groups: tuple[FunctionalGroup, ...]
    trailer: Segment | None
    delimiters: Delimiters
    issues: tuple[EnvelopeIssue, ...] = field(default=(), compare=False)
    #: Interchange-level segments between ISA and the first GS (ISB/ISE, TA1).
    service_segments: tuple[Segment, ...] = ()

    @property
    def control_number(self) -> str:
        """ISA13, the interchange control number."""
        return self.header.text(13)

    @property
    def version(self) -> str:
        """ISA12, the interchange control version number (e.g. ``00401``)."""
        return self.header.text(12)

    @property
    def sender(self) -> tuple[str, str]:
        """(ISA05 qualifier, ISA06 id), id without its padding."""
        return self.header.text(5), self.header.text(6).strip()

    @property
    def receiver(self) -> tuple[str, str]:
        """(ISA07 qualifier, ISA08 id), id without its padding."""
        return self.header.text(7), self.header.text(8).strip()


@dataclass(frozen=True)
class X12Document:
    """What one input (file, message body) held: its interchanges and file-level issues.

    ``issues`` are problems that belong to no interchange: the input is empty, is not
    X12, or stops being X12 between interchanges.
    """

    interchanges: tuple[Interchange, ...]
    issues: tuple[EnvelopeIssue, ...] = field(default=(), compare=False)

    def all_issues(self) -> list[EnvelopeIssue]:
        """Every issue of the input in tree order: the input's, then each interchange's,
        each group's and each set's."""
        found = list(self.issues)
        for interchange in self.interchanges:
            found += interchange.issues
            for group in interchange.groups:
                found += group.issues
                for transaction in group.transactions:
                    found += transaction.issues
        return found
