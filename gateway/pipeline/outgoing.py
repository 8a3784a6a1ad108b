"""Recording an outbound interchange: control numbers, the exchange row, its envelopes.

Control numbers are allocated from the partner's counters in the same database
transaction that records the interchange (reliability.md G7): if anything fails before
the commit, the numbers are given back with the rollback; once committed they are never
used again, whatever happens to the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.config import Partner
from gateway.crashpoints import crashpoint
from gateway.store import NewTransaction, Repository
from gateway.transports import sha256_of
from gateway.x12 import Interchange, serialize


@dataclass(frozen=True)
class ControlNumbers:
    """ISA13 and GS06 for one outbound interchange of one group."""

    interchange: int
    group: int


def allocate(tx: Repository, partner: Partner) -> ControlNumbers:
    """The next ISA13 and GS06 towards ``partner`` (committed with ``tx`` or not at all)."""
    numbers = ControlNumbers(*tx.next_control_numbers(partner.name, ("isa13", "gs06")))
    crashpoint("outbound.numbers_allocated")
    return numbers


def file_name(partner: Partner, interchange: Interchange) -> str:
    """A unique name for an outbound file from the partner's ``file_name_pattern``: our id,
    the sets it carries, its ISA13, the time (Amazon's SFTP wants unique names with the
    document type, amazon-x12.md section 1). The ISA13 makes it unique."""
    sets = "-".join(sorted({t.set_id for g in interchange.groups for t in g.transactions}))
    when = interchange.header.text(9) + interchange.header.text(10)
    return partner.file_name_pattern.format(
        our_id=partner.our_id.id, partner=partner.name, set=sets or "TA1",
        isa13=interchange.control_number, time=f"20{when}00",
    )


def record_outbound(
    tx: Repository,
    partner: Partner,
    interchange: Interchange,
    *,
    kind: str,
    parent_id: int,
    now: datetime,
    ack_timeout: timedelta | None,
    business_key: str | None = None,
) -> tuple[int, list[int]]:
    """Store an outbound interchange ready to send (state ``queued``) with its envelope
    rows; returns (exchange id, transaction row ids). Groups other than 997s wait for a
    997 (``ack_status`` ``pending``, due after ``ack_timeout``); no 997 for a 997."""
    data = serialize(interchange)
    exchange_id = tx.add_exchange(
        channel="partner", direction="out", kind=kind, partner=partner.name,
        transport=partner.transport, file_name=file_name(partner, interchange), payload=data,
        sha256=sha256_of(data), state="queued", parent_id=parent_id, business_key=business_key,
    )  # fmt: skip
    if exchange_id is None:  # the counters make this impossible; refuse to guess
        raise RuntimeError(f"outbound file {file_name(partner, interchange)} exists already")
    interchange_id = tx.add_interchange(
        exchange_id=exchange_id, direction="out", sender=":".join(interchange.sender),
        receiver=":".join(interchange.receiver), control_number=interchange.control_number,
        version=interchange.version, usage=interchange.header.text(15), status="queued",
    )  # fmt: skip
    if interchange_id is None:
        raise RuntimeError(f"ISA13 {interchange.control_number} was used already")
    transaction_ids = []
    for group in interchange.groups:
        waits = group.functional_id != "FA" and ack_timeout is not None
        group_id = tx.add_group(
            interchange_id=interchange_id, functional_id=group.functional_id,
            control_number=group.control_number, version=group.version, status="queued",
            ack_status="pending" if waits else None,
            ack_due_at=now + ack_timeout if waits and ack_timeout is not None else None,
        )  # fmt: skip
        transaction_ids += tx.add_transactions(group_id, [
            NewTransaction(transaction.set_id, transaction.control_number, "queued",
                           business_key=business_key)
            for transaction in group.transactions
        ])  # fmt: skip
    tx.event(exchange_id, "interchange_queued", isa13=interchange.control_number,
             partner=partner.name)  # fmt: skip
    return exchange_id, transaction_ids
