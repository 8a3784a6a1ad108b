"""The validation report: findings as data, a status per interchange, group and set.

A report is what a 997 (or a TA1) is built from, what ``acorn validate`` prints and what
the store keeps. Nothing here raises for bad input.

Status per X12 (997 AK501 / AK901): ``accepted`` (A), ``accepted_with_errors`` (E: only
findings of severity ``warning``), ``partially_accepted`` (P, groups only: some sets
rejected), ``rejected`` (R).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from gateway.validation.codes import describe

Level = Literal["document", "interchange", "group", "transaction", "segment", "element"]
Status = Literal["accepted", "accepted_with_errors", "partially_accepted", "rejected"]
Severity = Literal["error", "warning"]

#: 997 AK501 / AK901 letter of each status.
STATUS_CODES: dict[str, str] = {
    "accepted": "A",
    "accepted_with_errors": "E",
    "partially_accepted": "P",
    "rejected": "R",
}


@dataclass(frozen=True)
class Finding:
    """One problem, located as precisely as the input allows.

    ``code`` is the X12 code of ``level``: TA105 (interchange, document), AK905 (group),
    AK502 (transaction), AK304 (segment), AK403 (element). ``position`` is the segment's
    position in its transaction set (ST = 1, AK302); ``element`` / ``component`` the
    element position (AK401); ``element_ref`` the data element number (AK402);
    ``bad_value`` the offending value (AK404); ``offset`` the byte offset of the segment
    in the input (-1 when unknown). ``segment_code`` is the AK304 under which an element
    finding is reported (8 unless the segment itself is also in error).
    """

    level: Level
    code: str
    message: str
    offset: int = -1
    segment: str | None = None
    position: int | None = None
    loop: str | None = None
    element: int | None = None
    component: int | None = None
    element_ref: str | None = None
    bad_value: str | None = None
    severity: Severity = "error"

    @property
    def element_name(self) -> str | None:
        """The element as people write it: ``BEG05``, ``CTP05-2``; None for a segment."""
        if self.element is None or self.segment is None:
            return None
        name = f"{self.segment}{self.element:02d}"
        return f"{name}-{self.component}" if self.component else name

    @property
    def description(self) -> str:
        """The standard wording of the code."""
        return describe(self.level, self.code)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field plus ``element_name`` and ``description``."""
        data = asdict(self)
        data["element_name"] = self.element_name
        data["description"] = self.description
        return data


def _status(findings: list[Finding] | tuple[Finding, ...]) -> Status:
    if any(f.severity == "error" for f in findings):
        return "rejected"
    return "accepted_with_errors" if findings else "accepted"


@dataclass
class TransactionReport:
    """The outcome for one transaction set (one AK2..AK5 loop of the 997)."""

    set_id: str
    control_number: str
    offset: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def status(self) -> Status:
        """rejected when any finding is an error; accepted_with_errors when only warnings."""
        return _status(self.findings)

    @property
    def set_codes(self) -> list[str]:
        """AK502..AK506: the set-level codes, plus 5 when segments are in error (max 5)."""
        codes = [f.code for f in self.findings if f.level == "transaction"]
        if any(f.level in ("segment", "element") and f.severity == "error" for f in self.findings):
            codes.append("5")
        return list(dict.fromkeys(codes))[:5]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "set_id": self.set_id,
            "control_number": self.control_number,
            "offset": self.offset,
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass
class GroupReport:
    """The outcome for one functional group (one 997)."""

    header: tuple[str, ...]
    offset: int
    declared_sets: int | None = None
    findings: list[Finding] = field(default_factory=list)
    transactions: list[TransactionReport] = field(default_factory=list)

    @property
    def functional_id(self) -> str:
        """GS01."""
        return self.header[0] if self.header else ""

    @property
    def control_number(self) -> str:
        """GS06."""
        return self.header[5] if len(self.header) > 5 else ""

    @property
    def version(self) -> str:
        """GS08."""
        return self.header[7] if len(self.header) > 7 else ""

    @property
    def accepted_sets(self) -> int:
        """AK904: sets accepted (with or without errors)."""
        return sum(t.status != "rejected" for t in self.transactions)

    @property
    def status(self) -> Status:
        """AK901: R on group errors or when no set is accepted, P when some are, else A/E."""
        if any(f.severity == "error" for f in self.findings) or not self.transactions:
            return "rejected"
        statuses = {t.status for t in self.transactions}
        if statuses == {"rejected"}:
            return "rejected"
        if "rejected" in statuses:
            return "partially_accepted"
        if "accepted_with_errors" in statuses or self.findings:
            return "accepted_with_errors"
        return "accepted"

    @property
    def group_codes(self) -> list[str]:
        """AK905..AK909 (max 5)."""
        return list(dict.fromkeys(f.code for f in self.findings if f.level == "group"))[:5]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "functional_id": self.functional_id,
            "control_number": self.control_number,
            "version": self.version,
            "offset": self.offset,
            "status": self.status,
            "sets_included": self.declared_sets,
            "sets_received": len(self.transactions),
            "sets_accepted": self.accepted_sets,
            "findings": [f.to_dict() for f in self.findings],
            "transactions": [t.to_dict() for t in self.transactions],
        }


@dataclass
class InterchangeReport:
    """The outcome for one interchange; ``header`` is ISA01..ISA16 as read."""

    header: tuple[str, ...]
    delimiters: tuple[str, str, str, str | None]
    offset: int
    findings: list[Finding] = field(default_factory=list)
    groups: list[GroupReport] = field(default_factory=list)

    @property
    def control_number(self) -> str:
        """ISA13."""
        return self.header[12]

    @property
    def sender(self) -> tuple[str, str]:
        """(ISA05, ISA06 unpadded)."""
        return self.header[4], self.header[5].strip()

    @property
    def receiver(self) -> tuple[str, str]:
        """(ISA07, ISA08 unpadded)."""
        return self.header[6], self.header[7].strip()

    @property
    def status(self) -> Status:
        """rejected on any envelope error (a TA1 rejects it), else the worst of its groups."""
        if any(f.severity == "error" for f in self.findings):
            return "rejected"
        statuses = [g.status for g in self.groups]
        if not statuses:
            return "accepted"
        if all(s == "rejected" for s in statuses):
            return "rejected"
        if any(s in ("rejected", "partially_accepted") for s in statuses):
            return "partially_accepted"
        return "accepted_with_errors" if "accepted_with_errors" in statuses else "accepted"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "sender": list(self.sender),
            "receiver": list(self.receiver),
            "control_number": self.control_number,
            "version": self.header[11],
            "usage": self.header[14],
            "offset": self.offset,
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
            "groups": [g.to_dict() for g in self.groups],
        }


@dataclass
class ValidationReport:
    """Everything found in one input (a file or a message body)."""

    source: str
    findings: list[Finding] = field(default_factory=list)
    interchanges: list[InterchangeReport] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        """True when nothing at any level is rejected (warnings allowed)."""
        return not self.rejected_anything

    @property
    def rejected_anything(self) -> bool:
        """True when the input, an interchange, a group or a set is rejected, even in part."""
        if any(f.severity == "error" for f in self.findings) or not self.interchanges:
            return True
        for isa in self.interchanges:
            if isa.status != "accepted" and isa.status != "accepted_with_errors":
                return True
            for group in isa.groups:
                if group.status in ("rejected", "partially_accepted"):
                    return True
        return False

    def all_findings(self) -> list[Finding]:
        """Every finding of the input, in input order."""
        found = list(self.findings)
        for isa in self.interchanges:
            found += isa.findings
            for group in isa.groups:
                found += group.findings
                for txn in group.transactions:
                    found += txn.findings
        return sorted(found, key=lambda f: f.offset)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``--json`` output of ``acorn validate``)."""
        return {
            "source": self.source,
            "accepted": self.accepted,
            "findings": [f.to_dict() for f in self.findings],
            "interchanges": [i.to_dict() for i in self.interchanges],
        }


def segment_id_finding(segment: Any, position: int) -> Finding | None:
    """A finding (AK304 1) when ``segment``'s id cannot be walked by a map: an empty id or
    one that is no id (pyx12 stops reading at an empty segment, pyx12-maps.md gotcha 5);
    ``None`` for a usable id. ``position`` is the segment's 1-based place in its set."""
    tag = segment.tag
    if (2 <= len(tag) <= 3 and tag.isalnum() and tag.isupper()) or tag in ("ST", "SE"):
        return None
    return Finding("segment", "1", f"segment id {tag!r} is not a valid segment identifier",
                   segment.offset, tag, position)  # fmt: skip


def segment_id_findings(segments: Sequence[Any]) -> tuple[list[int], list[Finding]]:
    """The indexes of the segments whose id can be walked by a map, and a finding (AK304 1)
    for each other one (:func:`segment_id_finding`). Both validation engines start with it."""
    kept: list[int] = []
    findings: list[Finding] = []
    for index, segment in enumerate(segments):
        finding = segment_id_finding(segment, index + 1)
        if finding is None:
            kept.append(index)
        else:
            findings.append(finding)
    return kept, findings
