"""The X12 codec: bytes <-> Interchange > FunctionalGroup > Transaction > Segment.

Pure: no I/O beyond the stream it is given, no knowledge of maps or partners.

Reading: :func:`parse` builds the whole tree; :func:`read_events` streams envelope events,
holding one transaction set at a time, or with ``whole_sets=False`` one segment at a time
(:class:`TransactionStart`, then a :class:`SegmentRead` per body segment, then the
:class:`TransactionRead` without its body); :class:`DocumentBuilder` builds the tree from
whole-set events. See ``gateway.x12.envelope``.
"""

from gateway.x12.envelope import (
    DocumentBuilder,
    DocumentIssue,
    Event,
    GroupEnd,
    GroupStart,
    InterchangeEnd,
    InterchangeStart,
    SegmentRead,
    TransactionRead,
    TransactionStart,
    parse,
    read_events,
)
from gateway.x12.lexer import DEFAULT_MAX_SEGMENT, Lexer, is_version, uses_repetition
from gateway.x12.model import (
    FUNCTIONAL_GROUP_OF_SET,
    Composite,
    Delimiters,
    Element,
    EnvelopeIssue,
    FunctionalGroup,
    Interchange,
    Repeated,
    Segment,
    Transaction,
    X12Document,
    element_text,
)
from gateway.x12.writer import (
    Party,
    build_group,
    build_interchange,
    build_transaction,
    check_delimiters,
    segment_text,
    serialize,
)

__all__ = [
    "DEFAULT_MAX_SEGMENT",
    "FUNCTIONAL_GROUP_OF_SET",
    "Composite",
    "Delimiters",
    "DocumentBuilder",
    "DocumentIssue",
    "Element",
    "EnvelopeIssue",
    "Event",
    "FunctionalGroup",
    "GroupEnd",
    "GroupStart",
    "Interchange",
    "InterchangeEnd",
    "InterchangeStart",
    "Lexer",
    "Party",
    "Repeated",
    "Segment",
    "SegmentRead",
    "Transaction",
    "TransactionRead",
    "TransactionStart",
    "X12Document",
    "build_group",
    "build_interchange",
    "build_transaction",
    "check_delimiters",
    "element_text",
    "is_version",
    "parse",
    "read_events",
    "segment_text",
    "serialize",
    "uses_repetition",
]
