"""The X12 tree: Interchange > FunctionalGroup > Transaction > Segment.

All nodes are frozen dataclasses. Byte offsets and envelope issues are carried for
reporting but excluded from equality, so that a tree read back from its own
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

from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Segment:
    """One segment: its id (``tag``) and its elements, ``elements[0]`` being element 01.

    ``offset`` is the byte offset of the segment's first byte in the input (``-1`` for a
    segment that was built, not read).
    """

    tag: str
    elements: tuple[Element, ...] = ()
    offset: int = field(default=-1, compare=False)

    def element(self, position: int) -> Element:
        """Element at 1-based ``position`` (``""`` when absent)."""
        if 1 <= position <= len(self.elements):
            return self.elements[position - 1]
        return ""

    def text(self, position: int) -> str:
        """Element at 1-based ``position`` as text (see :func:`element_text`)."""
        return element_text(self.element(position))


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
