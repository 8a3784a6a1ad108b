"""Validate an input (bytes, a file, a stream) into a :class:`ValidationReport`.

The input is read as a stream of envelope events (``gateway.x12.read_events``) and each
transaction set is validated as soon as it is read, so memory holds one set at a time.
Findings come from three places, each reported once:

* the codec's envelope checks (ISA fields, counts, control numbers, structure);
* the choice of map: a group whose (ISA12, GS08, GS01) has no map is not supported
  (AK905 1 when no version of GS01 is mapped, 2 when only this version is not);
* the maps, for every set of a supported group: compiled into tables and walked in one
  pass (``engine="fast"``, the default) or walked by pyx12 (``engine="pyx12"``, the
  reference the fast engine is tested against).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

from gateway.validation.compiled import MapTables, SetValidator, compile_map, envelope_findings
from gateway.validation.engine import MapChoice, MapSet
from gateway.validation.report import (
    Finding,
    GroupReport,
    InterchangeReport,
    TransactionReport,
    ValidationReport,
)
from gateway.x12 import (
    Delimiters,
    DocumentBuilder,
    DocumentIssue,
    EnvelopeIssue,
    GroupEnd,
    GroupStart,
    InterchangeEnd,
    InterchangeStart,
    Segment,
    SegmentRead,
    TransactionRead,
    TransactionStart,
    X12Document,
    read_events,
)

_DEFAULT_MAPS: MapSet | None = None
#: The validation engines: the compiled tables and the pyx12 reference.
ENGINES = ("fast", "pyx12")
#: The engine of a call that names none.
DEFAULT_ENGINE = "fast"


def default_maps() -> MapSet:
    """The process-wide :class:`MapSet` of the default map directory (loaded on first use)."""
    global _DEFAULT_MAPS
    if _DEFAULT_MAPS is None:
        _DEFAULT_MAPS = MapSet()
    return _DEFAULT_MAPS


def prepare(engine: str | None = None, *, maps: MapSet | None = None) -> None:
    """Load the maps (``maps`` or the default set) and, for the fast engine, compile every
    one of them now, so that no interchange pays for it later. Idempotent; raises
    :class:`ValidationSetupError` for a map that cannot be read and ``ValueError`` for an
    unknown engine."""
    engine = _engine(engine)
    maps = maps or default_maps()
    if engine == "fast":
        for map_file in maps.map_files():
            compile_map(str(maps.map_dir), map_file)


def _engine(engine: str | None) -> str:
    """``engine``, or the default for None; ``ValueError`` for a name not in ENGINES."""
    engine = engine or DEFAULT_ENGINE
    if engine not in ENGINES:
        raise ValueError(f"unknown validation engine {engine!r} (one of {', '.join(ENGINES)})")
    return engine


def finding_from_issue(issue: EnvelopeIssue) -> Finding:
    """An envelope issue of the codec as a report finding (same level, code and place)."""
    element = int(issue.element[-2:]) if issue.element and issue.element[-2:].isdigit() else None
    return Finding(issue.level, issue.code, issue.message, issue.offset,  # type: ignore[arg-type]
                   issue.segment or None, element=element)  # fmt: skip


def _texts(segment: Segment) -> tuple[str, ...]:
    return tuple(segment.text(i) for i in range(1, len(segment.elements) + 1))


def validate(
    source: bytes | str | Path | BinaryIO,
    *,
    maps: MapSet | None = None,
    name: str | None = None,
    engine: str | None = None,
) -> ValidationReport:
    """Validate every interchange, group and set of ``source``; never raises for bad input.

    ``source`` is bytes, a path or a binary stream; ``name`` labels the report (defaults
    to the path). ``engine`` is ``"fast"`` (the default, ``DEFAULT_ENGINE``: the tables
    compiled from the maps, ``gateway.validation.compiled``, in one pass whose memory is
    bounded by one segment whatever the length of a set) or ``"pyx12"`` (the reference,
    far slower; holds one set at a time). Both give
    the same findings. Raises only :class:`~gateway.errors.ValidationSetupError` when the
    map directory is unusable, ``ValueError`` for an unknown engine and ``OSError`` when a
    path cannot be opened.
    """
    return _run(source, maps, name, engine, None)


def validate_document(
    source: bytes | str | Path | BinaryIO,
    *,
    maps: MapSet | None = None,
    name: str | None = None,
    engine: str | None = None,
) -> tuple[ValidationReport, X12Document]:
    """:func:`validate`, and the tree of the same input (what ``gateway.x12.parse``
    returns), in one reading: for callers that go on to map the sets they validated.
    The tree holds the whole input in memory."""
    builder = DocumentBuilder()
    report = _run(source, maps, name, engine, builder)
    return report, builder.document()


def _run(
    source: bytes | str | Path | BinaryIO,
    maps: MapSet | None,
    name: str | None,
    engine: str | None,
    builder: DocumentBuilder | None,
) -> ValidationReport:
    engine = _engine(engine)
    maps = maps or default_maps()
    if isinstance(source, bytes):
        return _validate_stream(io.BytesIO(source), maps, name or "<bytes>", engine, builder)
    if isinstance(source, str | Path):
        with open(source, "rb") as stream:
            return _validate_stream(stream, maps, name or str(source), engine, builder)
    return _validate_stream(source, maps, name or getattr(source, "name", "<stream>"), engine,
                            builder)  # fmt: skip


def _validate_stream(
    stream: BinaryIO, maps: MapSet, name: str, engine: str, builder: DocumentBuilder | None
) -> ValidationReport:
    fast = engine == "fast"
    # The fast engine takes a set segment by segment unless the tree is wanted too.
    whole_sets = not fast or builder is not None
    report = ValidationReport(source=name)
    isa_report: InterchangeReport | None = None
    isa: Segment | None = None
    group: GroupReport | None = None
    gs: Segment | None = None
    choice: MapChoice | None = None
    tables: MapTables | None = None
    set_validator: SetValidator | None = None
    delimiters = None
    isa_checked = group_checked = False
    isa_issues = 0
    for event in read_events(stream, whole_sets=whole_sets):
        if builder is not None:
            builder.add(event)
        if isinstance(event, SegmentRead):
            if set_validator is not None:
                set_validator.add(event.segment)
        elif isinstance(event, TransactionStart):
            set_validator = _set_validator(tables, delimiters)
            if set_validator is not None:
                set_validator.add(event.header)
        elif isinstance(event, InterchangeStart):
            isa, delimiters = event.header, event.delimiters
            d = event.delimiters
            isa_report = InterchangeReport(
                _texts(isa), (d.element, d.component, d.segment, d.repetition), isa.offset,
                [finding_from_issue(i) for i in event.issues],
            )  # fmt: skip
            report.interchanges.append(isa_report)
            isa_checked, isa_issues = False, len(event.issues)
        elif isinstance(event, GroupStart):
            assert isa_report is not None and isa is not None
            gs = event.header
            group = GroupReport(_texts(gs), gs.offset)
            isa_report.groups.append(group)
            choice = maps.choose(isa.text(12), gs.text(8), gs.text(1))
            tables = compile_map(str(maps.map_dir), choice.map_file) if fast and choice else None
            group_checked = False
            if choice is None:
                fic = gs.text(1)
                code = "2" if maps.supports_functional_id(fic) else "1"
                what = "version" if code == "2" else "functional group"
                group.findings.append(
                    Finding("group", code,
                            f"{what} not supported: no map for GS01 {fic!r}, GS08"
                            f" {gs.text(8)!r} under ISA12 {isa.text(12)!r}", gs.offset, "GS",
                            element=8 if code == "2" else 1)
                )  # fmt: skip
        elif isinstance(event, TransactionRead):
            assert group is not None and isa is not None and gs is not None
            assert delimiters is not None and isa_report is not None
            txn = event.transaction
            result = TransactionReport(txn.set_id, txn.control_number, txn.header.offset,
                                       [finding_from_issue(i) for i in txn.issues])  # fmt: skip
            group.transactions.append(result)
            validator, set_validator = set_validator, None
            if choice is None:
                result.findings.append(
                    Finding("transaction", "1",
                            f"transaction set {txn.set_id} not supported in this group",
                            txn.header.offset, "ST", 1, element=1)
                )  # fmt: skip
                continue
            if any(f.code == "1" for f in result.findings):
                continue  # ST01 does not belong in this group: its map would only mislead
            mapped = choice.map_file.split(".", 1)[0]
            if txn.set_id != mapped:
                # An ST01 no map knows (e.g. "85O"): pyx12 cannot place the ST and reports
                # nothing, so the set would pass unchecked. X12 AK502 1: not supported.
                result.findings.append(
                    Finding("transaction", "1",
                            f"transaction set {txn.set_id!r} not supported in a group"
                            f" {gs.text(1)} (its map is for {mapped})",
                            txn.header.offset, "ST", 1, element=1)
                )  # fmt: skip
                continue
            if fast:
                assert tables is not None
                if whole_sets:
                    validator = _set_validator(tables, delimiters)
                    assert validator is not None
                    for segment in (txn.header, *txn.segments):
                        validator.add(segment)
                assert validator is not None
                if txn.trailer is not None:
                    validator.add(txn.trailer)
                found = validator.finish()
                if not (isa_checked and group_checked):
                    control = f"x12.control.{choice.control_version}.xml"
                    found = envelope_findings(
                        isa, gs, tables, compile_map(str(maps.map_dir), control),
                        control_version=choice.control_version,
                        component=delimiters.component, repetition=delimiters.repetition,
                    ) + found  # fmt: skip
            else:
                found = maps.validate_transaction(
                    choice, isa, gs, delimiters, txn,
                    envelope_findings=not (isa_checked and group_checked),
                )  # fmt: skip
            for finding in found:
                if finding.level == "interchange":
                    # The codec checks the ISA first; pyx12 adds only what it did not see.
                    if not isa_checked and finding.element not in {
                        f.element for f in isa_report.findings
                    }:
                        isa_report.findings.append(finding)
                elif finding.level == "group":
                    if not group_checked:
                        group.findings.append(finding)
                else:
                    result.findings.append(finding)
            isa_checked = group_checked = True
        elif isinstance(event, GroupEnd):
            assert group is not None
            group.findings += [finding_from_issue(i) for i in event.issues]
            if event.trailer is not None and event.trailer.text(1).isdigit():
                group.declared_sets = int(event.trailer.text(1))
            group, gs, choice, tables = None, None, None, None
        elif isinstance(event, InterchangeEnd):
            assert isa_report is not None
            # InterchangeEnd repeats the ISA issues already taken at InterchangeStart.
            isa_report.findings += [finding_from_issue(i) for i in event.issues[isa_issues:]]
            isa_report, isa = None, None
        elif isinstance(event, DocumentIssue):
            report.findings.append(finding_from_issue(event.issue))
    return report


def _set_validator(tables: MapTables | None, delimiters: Delimiters | None) -> SetValidator | None:
    """A fresh validator for the next set of a group with a map (fast engine), else None."""
    if tables is None or delimiters is None:
        return None
    return SetValidator(tables, component=delimiters.component,
                        repetition=delimiters.repetition, element=delimiters.element,
                        segment=delimiters.segment)  # fmt: skip
