"""Acknowledgments built from a validation report: the 997 per group, the TA1 per interchange.

Why our own writer and not pyx12's: pyx12 puts ``00401`` in GS08 and derives ISA13 from
the clock (pyx12-maps.md gotcha 4). Here control numbers are arguments (the store owns
the counters) and the 997 mirrors the inbound envelope:

* one 997 per received functional group, none for a group of 997s (GS01 ``FA``);
* ISA05/06 and ISA07/08, GS02 and GS03 swapped; ISA12, GS08, ISA15 and the delimiters
  the same as the inbound interchange and group ("same release");
* AK1 echoes GS01/GS06; per set AK2 (ST01/ST02), AK3/AK4 per finding, AK5 with the
  set's status and codes; AK9 with status, sets included (GE01), received, accepted and
  the group's codes.

An interchange whose envelope is rejected is answered with a TA1 (X12.5 section 4)
instead: a 997 cannot acknowledge groups of an interchange the receiver did not accept.
"""

from __future__ import annotations

import re
from datetime import datetime

from gateway.errors import X12WriteError
from gateway.validation.report import (
    STATUS_CODES,
    Finding,
    GroupReport,
    InterchangeReport,
    TransactionReport,
)
from gateway.x12 import (
    Composite,
    Delimiters,
    Interchange,
    Party,
    Segment,
    build_group,
    build_interchange,
    build_transaction,
    check_delimiters,
    is_version,
    uses_repetition,
)

#: AK404 holds at most 99 characters (element 725).
_BAD_VALUE_MAX = 99
#: What AK301 (data element 721, ID 2/3) can hold.
_SEGMENT_ID = re.compile(r"[A-Z0-9]{2,3}")
#: GS08 of a 997 when the inbound group's GS08 is not a release (``00`` + four digits +
#: ``0``, e.g. garbled): the release our 997 map is written for.
_REPLY_RELEASE = "004010"
_RELEASE = re.compile(r"00[0-9]{4}")
#: TA105 codes that reject an interchange, most serious first (X12.5 TA1 note codes).
_TA1_PRIORITY = ("022", "023", "024", "026", "027", "004", "001", "021", "025")


def _clean(value: str | None, delimiters: Delimiters) -> str:
    """A copy of a bad value fit for AK404 (type AN): no delimiters, no control characters,
    none of ``^`` and backquote, which AN admits only from 00501 on (T4: a bad value holding
    them made our 997 fail our own map)."""
    if not value:
        return ""
    banned = set(delimiters.all()) | {"^", "`"}
    kept = "".join(c for c in value if c not in banned and c.isprintable() and c.isascii())
    return kept[:_BAD_VALUE_MAX]


def _reply_version(isa: InterchangeReport) -> str:
    """The inbound ISA12 when it is a version, else 00401 (a TA1 still has to be readable)."""
    return isa.header[11] if is_version(isa.header[11]) else "00401"


def _delimiters(isa: InterchangeReport) -> Delimiters:
    """The inbound delimiters when they can be written back for the reply's version; else
    the standard ones (``*``, ``>``, ``~``, and ``^`` for repetitions from 00402 on)."""
    element, component, segment, repetition = isa.delimiters
    version = _reply_version(isa)
    if not uses_repetition(version):
        repetition = None
    elif repetition is None:
        used = {element, component, segment}
        repetition = next(c for c in "^|!" if c not in used)
    inbound = Delimiters(element, component, segment, repetition)
    try:
        check_delimiters(inbound, version)
    except X12WriteError:
        return Delimiters(repetition="^" if uses_repetition(version) else None)
    return inbound


def _segment_loops(txn: TransactionReport, delimiters: Delimiters) -> list[Segment]:
    """AK3 (and its AK4s) for every segment in error, in order of position."""
    by_segment: dict[tuple[int, str], list[Finding]] = {}
    for finding in txn.findings:
        if finding.level in ("segment", "element") and finding.severity == "error":
            key = (finding.position or 0, finding.segment or "")
            by_segment.setdefault(key, []).append(finding)
    out: list[Segment] = []
    for (position, seg_id), findings in sorted(by_segment.items()):
        if not _SEGMENT_ID.fullmatch(seg_id[:3]):
            # AK301 (ID 2/3) cannot name a segment whose tag is unreadable (a delimiter or
            # control character in it, T4): the AK5 code of the set still reports the error.
            continue
        loop = next((f.loop for f in findings if f.loop), None) or ""
        seg_codes = list(dict.fromkeys(f.code for f in findings if f.level == "segment"))
        elements = [f for f in findings if f.level == "element"]
        if elements and "8" not in seg_codes:
            seg_codes.append("8")
        for code in seg_codes:
            out.append(Segment("AK3", (seg_id[:3], str(position), loop[:6], code)))
            if code != "8":
                continue
            # AK401 is mandatory: an element finding always has its position.
            for finding in [f for f in elements if f.element is not None][:99]:
                where: str | Composite = str(finding.element)
                if finding.component:
                    where = Composite((str(finding.element), str(finding.component)))
                out.append(
                    Segment("AK4", (where, finding.element_ref or "", finding.code,
                                    _clean(finding.bad_value, delimiters)))
                )  # fmt: skip
    return out


def build_997(
    isa: InterchangeReport,
    group: GroupReport,
    *,
    interchange_control_number: int,
    group_control_number: int,
    when: datetime,
    transaction_control_number: int = 1,
) -> Interchange | None:
    """The 997 acknowledging ``group`` of ``isa``; None when the group is itself 997s.

    Control numbers are the caller's (ISA13, GS06, ST02 of the 997).
    """
    if group.functional_id == "FA":
        return None
    delimiters = _delimiters(isa)
    body: list[Segment] = [Segment("AK1", (group.functional_id, group.control_number))]
    for txn in group.transactions:
        body.append(Segment("AK2", (txn.set_id, txn.control_number)))
        body += _segment_loops(txn, delimiters)
        body.append(Segment("AK5", (STATUS_CODES[txn.status], *txn.set_codes)))
    received = len(group.transactions)
    included = group.declared_sets if group.declared_sets is not None else received
    if not 0 <= included <= 999_999:
        # AK902 is N0 1/6: a garbled GE01 (T4) is reported by AK905 5, never echoed.
        included = received
    body.append(
        Segment("AK9", (STATUS_CODES[group.status], str(included), str(received),
                        str(group.accepted_sets), *group.group_codes))
    )  # fmt: skip
    gs = group.header
    functional_group = build_group(
        functional_id="FA",
        application_sender=gs[2] if len(gs) > 2 else "",
        application_receiver=gs[1] if len(gs) > 1 else "",
        control_number=group_control_number,
        version=group.version if _RELEASE.fullmatch(group.version or "") else _REPLY_RELEASE,
        transactions=[build_transaction("997", transaction_control_number, body)],
        when=when,
    )
    return build_interchange(
        sender=Party(*isa.receiver),
        receiver=Party(*isa.sender),
        control_number=interchange_control_number,
        groups=[functional_group],
        when=when,
        version=_reply_version(isa),
        usage=isa.header[14],
        delimiters=delimiters,
    )


def ta1_code(isa: InterchangeReport) -> str:
    """TA105 for ``isa``: ``000`` when its envelope is sound, else the gravest code found."""
    codes = [f.code for f in isa.findings if f.level == "interchange" and f.severity == "error"]
    if not codes:
        return "000"
    ranked = sorted(codes, key=lambda c: _TA1_PRIORITY.index(c) if c in _TA1_PRIORITY else 99)
    return ranked[0]


def build_ta1(
    isa: InterchangeReport, *, interchange_control_number: int, when: datetime
) -> Interchange:
    """An interchange holding one TA1 that accepts (``A``/000) or rejects (``R``/code) ``isa``."""
    code = ta1_code(isa)
    ta1 = Segment(
        "TA1",
        (isa.control_number, isa.header[8], isa.header[9], "A" if code == "000" else "R", code),
    )
    interchange = build_interchange(
        sender=Party(*isa.receiver),
        receiver=Party(*isa.sender),
        control_number=interchange_control_number,
        groups=[],
        when=when,
        version=_reply_version(isa),
        usage=isa.header[14] if isa.header[14] in ("P", "T") else "P",
        delimiters=_delimiters(isa),
    )
    return Interchange(
        interchange.header, (), interchange.trailer, interchange.delimiters,
        service_segments=(ta1,),
    )  # fmt: skip


def acknowledge(
    isa: InterchangeReport,
    *,
    next_control_number: int,
    when: datetime,
) -> list[Interchange]:
    """The acknowledgments ``isa`` calls for: a TA1 when its envelope is rejected, else a
    997 per group (none for 997 groups). Control numbers are consecutive from
    ``next_control_number`` (ISA13 and GS06 alike)."""
    if ta1_code(isa) != "000":
        return [build_ta1(isa, interchange_control_number=next_control_number, when=when)]
    acks: list[Interchange] = []
    for group in isa.groups:
        ack = build_997(
            isa, group,
            interchange_control_number=next_control_number + len(acks),
            group_control_number=next_control_number + len(acks),
            when=when,
        )  # fmt: skip
        if ack is not None:
            acks.append(ack)
    return acks
