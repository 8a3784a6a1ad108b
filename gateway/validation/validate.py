"""Validate an input (bytes, a file, a stream) into a :class:`ValidationReport`.

The input is read as a stream of envelope events (``gateway.x12.read_events``) and each
transaction set is validated as soon as it is read, so memory holds one set at a time.
Findings come from three places, each reported once:

* the codec's envelope checks (ISA fields, counts, control numbers, structure);
* the choice of map: a group whose (ISA12, GS08, GS01) has no map is not supported
  (AK905 1 when no version of GS01 is mapped, 2 when only this version is not);
* the maps, walked by pyx12 (``engine``), for every set of a supported group.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

from gateway.validation.compiled import compile_map, envelope_findings
from gateway.validation.compiled import validate_transaction as validate_compiled
from gateway.validation.engine import MapChoice, MapSet
from gateway.validation.report import (
    Finding,
    GroupReport,
    InterchangeReport,
    TransactionReport,
    ValidationReport,
)
from gateway.x12 import (
    DocumentIssue,
    EnvelopeIssue,
    GroupEnd,
    GroupStart,
    InterchangeEnd,
    InterchangeStart,
    Segment,
    TransactionRead,
    read_events,
)

_DEFAULT_MAPS: MapSet | None = None


def default_maps() -> MapSet:
    """The process-wide :class:`MapSet` of the default map directory (loaded on first use)."""
    global _DEFAULT_MAPS
    if _DEFAULT_MAPS is None:
        _DEFAULT_MAPS = MapSet()
    return _DEFAULT_MAPS


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
    engine: str = "pyx12",
) -> ValidationReport:
    """Validate every interchange, group and set of ``source``; never raises for bad input.

    ``source`` is bytes, a path or a binary stream; ``name`` labels the report (defaults
    to the path). ``engine`` is ``"pyx12"`` (the reference) or ``"fast"`` (the tables
    compiled from the same maps, ``gateway.validation.compiled``). Raises only
    :class:`~gateway.errors.ValidationSetupError` when the map directory is unusable, and
    ``OSError`` when a path cannot be opened.
    """
    maps = maps or default_maps()
    if isinstance(source, bytes):
        return _validate_stream(io.BytesIO(source), maps, name or "<bytes>", engine)
    if isinstance(source, str | Path):
        with open(source, "rb") as stream:
            return _validate_stream(stream, maps, name or str(source), engine)
    return _validate_stream(source, maps, name or getattr(source, "name", "<stream>"), engine)


def _validate_stream(
    stream: BinaryIO, maps: MapSet, name: str, engine: str = "pyx12"
) -> ValidationReport:
    report = ValidationReport(source=name)
    isa_report: InterchangeReport | None = None
    isa: Segment | None = None
    group: GroupReport | None = None
    gs: Segment | None = None
    choice: MapChoice | None = None
    delimiters = None
    isa_checked = group_checked = False
    isa_issues = 0
    for event in read_events(stream):
        if isinstance(event, InterchangeStart):
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
            if choice is None:
                result.findings.append(
                    Finding("transaction", "1",
                            f"transaction set {txn.set_id} not supported in this group",
                            txn.header.offset, "ST", 1, element=1)
                )  # fmt: skip
                continue
            if any(f.code == "1" for f in result.findings):
                continue  # ST01 does not belong in this group: its map would only mislead
            if engine == "fast":
                tables = compile_map(str(maps.map_dir), choice.map_file)
                found = validate_compiled(
                    txn, tables, component=delimiters.component, repetition=delimiters.repetition
                )
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
            group, gs, choice = None, None, None
        elif isinstance(event, InterchangeEnd):
            assert isa_report is not None
            # InterchangeEnd repeats the ISA issues already taken at InterchangeStart.
            isa_report.findings += [finding_from_issue(i) for i in event.issues[isa_issues:]]
            isa_report, isa = None, None
        elif isinstance(event, DocumentIssue):
            report.findings.append(finding_from_issue(event.issue))
    return report
