"""What every pipeline step works with: configuration, store, transports, clock, identity."""

from __future__ import annotations

import gc
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from gateway.config import Config, Partner
from gateway.errors import ConfigError
from gateway.store import ExchangeRecord, Store, utcnow
from gateway.transports import FolderTransport, Transport, ensure_dir
from gateway.transports.as2.station import PartnerStation, Station
from gateway.transports.sftp import SftpTransport
from gateway.validation import prepare


def _owner() -> str:
    """A lease owner name unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


#: The collector's thresholds in a warmed gateway (Python's default: 700, 10, 10). Processing
#: a set allocates thousands of short-lived objects and almost no reference cycles, so a
#: young-generation collection every 700 allocations costs without freeing anything
#: (reference counting already has); garbage in cycles still goes, a little later.
GC_THRESHOLDS = (20_000, 10, 10)


def settle_heap() -> None:
    """Move every object alive now out of the cyclic garbage collector's sight and set
    :data:`GC_THRESHOLDS`: for a process that has loaded what it will keep (maps, models,
    schema) and now does steady work. What is loaded at start-up lives as long as the
    process; scanning it again at every full collection is pure cost (``gc.freeze``)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@dataclass
class Pipeline:
    """The gateway at work: one per process. ``now`` is the clock (tests move it)."""

    config: Config
    store: Store
    owner: str = field(default_factory=_owner)
    now: Callable[[], datetime] = utcnow
    _transports: dict[str, Transport] = field(default_factory=dict)
    #: Partners whose transport could not be reached in this pass, with the reason.
    unreachable: dict[str, str] = field(default_factory=dict)
    #: Partners whose transport has been failing, since when (``now()``), kept by
    #: :func:`gateway.pipeline.alerts.note_transports` (which raises ``transport_down``).
    transport_down_since: dict[str, datetime] = field(default_factory=dict)
    #: What ``note_transports`` last recorded per partner (``up`` or ``alerted``), so that
    #: a steady state costs no database write.
    _transport_noted: dict[str, str] = field(default_factory=dict)
    #: Notices (alert id, ``alert``/``recovery``, channel) a channel took while another
    #: channel failed: not sent to it again by :func:`gateway.pipeline.notify.notify`.
    _notices_sent: set[tuple[int, str, str]] = field(default_factory=set)
    #: Set when the process is stopping: loops over claimed rows end after the current one,
    #: so a job finishes quickly and its leases can be released (``acorn run``'s SIGTERM).
    stopping: threading.Event = field(default_factory=threading.Event)
    _station: Station | None = None
    _as2_partners: dict[str, PartnerStation] = field(default_factory=dict)

    def as2_station(self) -> Station:
        """Our AS2 station, certificates and keys loaded once (ConfigError when the
        configuration has none or a key cannot be loaded)."""
        if self._station is None:
            if self.config.as2 is None:
                raise ConfigError("as2: our AS2 station is not configured")
            self._station = Station.load(self.config.as2)
        return self._station

    def as2_partner(self, partner: Partner) -> PartnerStation:
        """The AS2 side of ``partner``, its certificates loaded once."""
        if partner.name not in self._as2_partners:
            if partner.as2 is None:
                raise ConfigError(f"partners.{partner.name}.as2 is not configured")
            self._as2_partners[partner.name] = PartnerStation.load(partner.name, partner.as2)
        return self._as2_partners[partner.name]

    def transport(self, partner: Partner) -> Transport:
        """The transport that carries files to and from ``partner``."""
        if partner.name not in self._transports and partner.transport == "sftp":
            assert partner.sftp is not None  # load_config guarantees it for "sftp"
            self._transports[partner.name] = SftpTransport("sftp", partner.sftp)
        if partner.name not in self._transports:
            assert partner.folder is not None  # load_config guarantees it for "folder"
            ensure_dir(partner.folder.outgoing)
            ensure_dir(partner.folder.incoming)
            self._transports[partner.name] = FolderTransport(
                name="folder",
                outgoing_dir=partner.folder.outgoing,
                incoming_dir=partner.folder.incoming,
                settle_seconds=self.config.gateway.settle_seconds,
            )
        return self._transports[partner.name]

    def warm(self) -> None:
        """Make this process ready for steady work, as a long-running gateway is: the maps
        loaded and compiled for the configured engine, then everything loaded so far (maps,
        models, schema) moved out of the cyclic garbage collector's sight and the collector
        run less often (:data:`GC_THRESHOLDS`). Call once, after start-up."""
        prepare(self.engine)
        settle_heap()

    @property
    def engine(self) -> str:
        """The validation engine of every input and output (``gateway.validation_engine``)."""
        return self.config.gateway.validation_engine

    def today(self) -> date:
        """The local date at ``now()`` (which is UTC): the date business rules compare
        against, so an invoice dated today in a zone ahead of UTC is not "in the future"."""
        return self.now().replace(tzinfo=UTC).astimezone().date()

    @property
    def lease_seconds(self) -> float:
        """How long a claimed row stays ours before another process may take it over."""
        return self.config.gateway.lease_seconds

    def claimed_batches(
        self, *, states: Sequence[str], kinds: Sequence[str] | None = None, batch: int = 20
    ) -> Iterator[list[ExchangeRecord]]:
        """Exchanges in ``states`` leased to this process, up to ``batch`` at a time, each
        at most once per call; the next batch is claimed (in a transaction of its own) when
        the caller asks for it, so a caller may hold its own transaction over one batch.
        Ends when nothing is left or the process is stopping."""
        seen: list[int] = []
        while not self.stopping.is_set():
            with self.store.transaction() as tx:
                batch_rows = tx.claim(self.owner, states=states, kinds=kinds,
                                      lease_seconds=self.lease_seconds, limit=batch,
                                      exclude=seen)  # fmt: skip
            if not batch_rows:
                return
            seen += [exchange.id for exchange in batch_rows]
            yield batch_rows

    def claimed(
        self, *, states: Sequence[str], kinds: Sequence[str] | None = None, batch: int = 20
    ) -> Iterator[ExchangeRecord]:
        """Exchanges in ``states`` leased to this process, batch by batch, each at most once
        per call (one that stays in its state, e.g. after a failed send, waits for the next
        pass instead of being retried at once)."""
        for batch_rows in self.claimed_batches(states=states, kinds=kinds, batch=batch):
            for exchange in batch_rows:
                if self.stopping.is_set():
                    with self.store.transaction() as tx:  # not started: give it back
                        tx.release(exchange.id)
                    continue
                yield exchange
