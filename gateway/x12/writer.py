"""Tree to bytes: build envelopes and serialise them.

The writer fills every count and trailer itself (SE01/SE02, GE01/GE02, IEA01/IEA02) from
the tree; control numbers (ISA13, GS06, ST02) are arguments of the builders, never
invented here, because they must come from the store's counters.

It refuses, naming the element, any value that contains a delimiter of the interchange or
a control character, rather than emitting an interchange the partner cannot split.
Nothing but the segment terminator separates segments: CR/LF are tolerated on input and
never emitted (amazon-x12.md section 9).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.errors import X12WriteError
from gateway.x12.lexer import ISA_WIDTHS, uses_repetition
from gateway.x12.model import (
    Composite,
    Delimiters,
    Element,
    FunctionalGroup,
    Interchange,
    Repeated,
    Segment,
    Transaction,
)


@dataclass(frozen=True)
class Party:
    """An interchange party: ISA05/ISA07 qualifier and ISA06/ISA08 id (unpadded)."""

    qualifier: str
    id: str


def _check_text(value: str, name: str, forbidden: frozenset[str]) -> str:
    for char in value:
        if char in forbidden:
            raise X12WriteError(f"value {value!r} contains the delimiter {char!r}", element=name)
        code = ord(char)
        # C0 and C1 controls and DEL are never data. U+DC80..U+DCFF are the surrogate
        # escapes of bytes the reader could not decode: they are written back as those
        # bytes, so a tree read from a partner round-trips byte for byte. Any other
        # surrogate cannot be encoded at all.
        if code < 0x20 or 0x7F <= code <= 0x9F or (0xD800 <= code <= 0xDFFF and code < 0xDC80):
            raise X12WriteError(
                f"value {value!r} contains the control character {char!r}", element=name
            )
    return value


def _trim(values: Sequence[str]) -> list[str]:
    out = list(values)
    while out and out[-1] == "":
        out.pop()
    return out


def _element(value: Element, name: str, delims: Delimiters, forbidden: frozenset[str]) -> str:
    if isinstance(value, str):
        return _check_text(value, name, forbidden)
    if isinstance(value, Composite):
        parts = [
            _check_text(c, f"{name}-{k}", forbidden) for k, c in enumerate(value.components, 1)
        ]
        return delims.component.join(_trim(parts))
    if isinstance(value, Repeated):
        if delims.repetition is None:
            raise X12WriteError(
                "repeated value but the interchange has no repetition separator (before 00402)",
                element=name,
            )
        return delims.repetition.join(_element(v, name, delims, forbidden) for v in value.values)
    raise X12WriteError(f"unsupported value {value!r}", element=name)


def segment_text(segment: Segment, delims: Delimiters) -> str:
    """One segment as text, terminator included; trailing empty elements are dropped."""
    tag = segment.tag
    if not (2 <= len(tag) <= 3 and tag.isascii() and tag.isalnum() and tag == tag.upper()):
        raise X12WriteError(f"segment id {tag!r} is not 2-3 upper-case letters/digits", element=tag)
    forbidden = frozenset(delims.all())
    parts = [
        _element(value, f"{tag}{position:02d}", delims, forbidden)
        for position, value in enumerate(segment.elements, 1)
    ]
    return delims.element.join([tag, *_trim(parts)]) + delims.segment


def check_delimiters(delims: Delimiters, version: str) -> None:
    """Raise X12WriteError for delimiters the reader could not take back from an ISA of
    ``version`` (X12.5 section 3); return None when they are fit to write."""
    named = [("ISA", delims.element), ("ISA16", delims.component), ("ISA", delims.segment)]
    if delims.repetition is not None:
        named.append(("ISA11", delims.repetition))
    for name, char in named:
        # One ASCII byte each, never a letter or digit; only the terminator may be a
        # line break (newline-terminated files), and the element separator never blank.
        if len(char) != 1 or not char.isascii() or char.isalnum() or (
            char.isspace() and (name != "ISA" or char == delims.element)
        ):
            raise X12WriteError(f"{char!r} cannot be a delimiter", element=name)
    if len(set(delims.all())) != len(delims.all()):
        raise X12WriteError(f"delimiters are not distinct: {delims.all()!r}", element="ISA")
    # The reader takes ISA11 as the repetition separator exactly from 00402 on.
    if uses_repetition(version) != (delims.repetition is not None):
        raise X12WriteError(
            f"version {version!r} and repetition separator {delims.repetition!r} disagree"
            " (ISA11 is the repetition separator from 00402 on, 'U' before)",
            element="ISA11",
        )


def _isa_text(header: Segment, delims: Delimiters) -> str:
    fields = [header.text(i) for i in range(1, 17)]
    fields[10] = delims.repetition if delims.repetition is not None else fields[10]
    fields[15] = delims.component
    check_delimiters(delims, fields[11])
    forbidden = frozenset(delims.all())
    for position, (value, width) in enumerate(zip(fields, ISA_WIDTHS, strict=True), 1):
        name = f"ISA{position:02d}"
        if len(value) != width:
            raise X12WriteError(f"must be {width} characters, found {len(value)}", element=name)
        # Widths count bytes: one non-ASCII character would shift every later field.
        if not value.isascii():
            raise X12WriteError(f"value {value!r} is not ASCII", element=name)
        if position != 16 and not (position == 11 and delims.repetition is not None):
            _check_text(value, name, forbidden)
    return delims.element.join(["ISA", *fields]) + delims.segment


def serialize(interchange: Interchange) -> bytes:
    """Serialise an interchange with its own delimiters, computing every trailer.

    SE01 counts ST..SE, SE02 = ST02, GE01 counts the sets, GE02 = GS06, IEA01 counts the
    groups, IEA02 = ISA13; trailers present in the tree are ignored.
    """
    return "".join(_interchange_texts(interchange)).encode("utf-8", "surrogateescape")


def _interchange_texts(interchange: Interchange) -> Iterable[str]:
    d = interchange.delimiters
    yield _isa_text(interchange.header, d)
    for segment in interchange.service_segments:
        yield segment_text(segment, d)
    for group in interchange.groups:
        yield segment_text(group.header, d)
        for txn in group.transactions:
            yield segment_text(txn.header, d)
            for segment in txn.segments:
                yield segment_text(segment, d)
            yield segment_text(Segment("SE", (str(len(txn.segments) + 2), txn.control_number)), d)
        yield segment_text(
            Segment("GE", (str(len(group.transactions)), group.control_number)), d
        )
    yield segment_text(
        Segment("IEA", (str(len(interchange.groups)), interchange.control_number)), d
    )


def build_transaction(
    set_id: str, control_number: int | str, body: Sequence[Segment]
) -> Transaction:
    """A transaction set with its ST and SE; ST02 is ``control_number`` (at least 4 digits)."""
    if isinstance(control_number, int) and not 1 <= control_number <= 999_999_999:
        raise X12WriteError(
            f"control number {control_number} is out of 1..999999999", element="ST02"
        )
    st02 = f"{control_number:04d}" if isinstance(control_number, int) else control_number
    if not 4 <= len(st02) <= 9:
        raise X12WriteError(f"control number {st02!r} must have 4-9 characters", element="ST02")
    return Transaction(
        Segment("ST", (set_id, st02)), tuple(body), Segment("SE", (str(len(body) + 2), st02))
    )


def build_group(
    *,
    functional_id: str,
    application_sender: str,
    application_receiver: str,
    control_number: int,
    version: str,
    transactions: Sequence[Transaction],
    when: datetime,
) -> FunctionalGroup:
    """A functional group (GS..GE); GS04/GS05 from ``when``, GS07 ``X``, GS06 ``control_number``."""
    if not 1 <= control_number <= 999_999_999:
        raise X12WriteError(
            f"control number {control_number} is out of 1..999999999", element="GS06"
        )
    gs = Segment(
        "GS",
        (
            functional_id, application_sender, application_receiver,
            when.strftime("%Y%m%d"), when.strftime("%H%M"), str(control_number), "X", version,
        ),
    )  # fmt: skip
    ge = Segment("GE", (str(len(transactions)), str(control_number)))
    return FunctionalGroup(gs, tuple(transactions), ge)


def build_interchange(
    *,
    sender: Party,
    receiver: Party,
    control_number: int,
    groups: Sequence[FunctionalGroup],
    when: datetime,
    version: str = "00401",
    usage: str = "P",
    ack_requested: str = "0",
    delimiters: Delimiters | None = None,
) -> Interchange:
    """An interchange (ISA..IEA) with fixed-width ISA fields.

    ``control_number`` becomes ISA13 (9 digits). For ``version`` 00402 and later ISA11 is
    the repetition separator (default ``^``); before, it is ``U``.
    """
    if not 1 <= control_number <= 999_999_999:
        raise X12WriteError(
            f"control number {control_number} is out of 1..999999999", element="ISA13"
        )
    if delimiters is None:
        delimiters = Delimiters(repetition="^" if uses_repetition(version) else None)
    for name, value, width in (
        ("ISA06", sender.id, 15), ("ISA08", receiver.id, 15),
        ("ISA05", sender.qualifier, 2), ("ISA07", receiver.qualifier, 2),
    ):  # fmt: skip
        if len(value) > width or not value:
            raise X12WriteError(f"{value!r} must have 1-{width} characters", element=name)
    isa11 = delimiters.repetition if delimiters.repetition is not None else "U"
    isa = Segment(
        "ISA",
        (
            "00", " " * 10, "00", " " * 10,
            sender.qualifier, sender.id.ljust(15), receiver.qualifier, receiver.id.ljust(15),
            when.strftime("%y%m%d"), when.strftime("%H%M"), isa11, version,
            f"{control_number:09d}", ack_requested, usage, delimiters.component,
        ),
    )  # fmt: skip
    iea = Segment("IEA", (str(len(groups)), f"{control_number:09d}"))
    return Interchange(isa, tuple(groups), iea, delimiters)
