"""``/metrics``: Prometheus metrics read from the store at each scrape (so several gateway
processes on one database report the same figures, and a restart loses nothing).

=================================================  ==========================================
``acorn_exchanges{direction,partner,state}``       exchanges in each state (gauge)
``acorn_queue_depth{partner,state}``               exchanges waiting in a non-terminal state
``acorn_validation_rejects_total{partner}``        inbound transaction sets rejected
``acorn_send_failures_total{partner}``             failed send attempts (``send_failed`` events)
``acorn_ack_latency_seconds{partner}``             sending a group to receiving its 997
``acorn_alerts_open{kind}``                        open alerts
``acorn_certificate_days_left{owner,fingerprint}`` days before each AS2 certificate ends
=================================================  ==========================================
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from gateway.pipeline import Pipeline
from gateway.pipeline.retention import TERMINAL
from gateway.store import utcnow
from gateway.transports.as2.station import certificate_report

#: Histogram buckets of the 997 latency: a minute to Amazon's 24 hours and beyond.
_BUCKETS = (60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 12 * 3600.0, 24 * 3600.0, 48 * 3600.0)


class StoreCollector(Collector):
    """Collects the metrics of the module docstring from ``pipeline``'s store."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def collect(self) -> Iterator[Metric]:
        with self.pipeline.store.transaction() as tx:
            counts = tx.exchange_counts()
            rejects = tx.rejected_transaction_count()
            failures = tx.event_counts("send_failed")
            latencies = tx.ack_latencies()
            alerts = tx.alerts(open_only=True)
        exchanges = GaugeMetricFamily("acorn_exchanges",
                                      "Exchanges by direction, partner and state",
                                      labels=["direction", "partner", "state"])
        queue = GaugeMetricFamily("acorn_queue_depth", "Exchanges waiting in a non-terminal "
                                  "state", labels=["partner", "state"])  # fmt: skip
        waiting: dict[tuple[str, str], int] = defaultdict(int)
        for direction, partner, state, n in counts:
            exchanges.add_metric([direction, partner, state], n)
            if state not in TERMINAL:
                waiting[(partner, state)] += n
        for (partner, state), n in sorted(waiting.items()):
            queue.add_metric([partner, state], n)
        yield exchanges
        yield queue
        rejected = CounterMetricFamily("acorn_validation_rejects", "Inbound transaction sets "
                                       "rejected by validation", labels=["partner"])  # fmt: skip
        for partner, n in sorted(rejects.items()):
            rejected.add_metric([partner], n)
        yield rejected
        failed = CounterMetricFamily("acorn_send_failures", "Failed send attempts",
                                     labels=["partner"])  # fmt: skip
        for partner, n in sorted(failures.items()):
            failed.add_metric([partner], n)
        yield failed
        yield _latency(latencies)
        open_alerts = GaugeMetricFamily("acorn_alerts_open", "Open alerts", labels=["kind"])
        by_kind: dict[str, int] = defaultdict(int)
        for alert in alerts:
            by_kind[alert.kind] += 1
        for kind, n in sorted(by_kind.items()):
            open_alerts.add_metric([kind], n)
        yield open_alerts
        days = GaugeMetricFamily("acorn_certificate_days_left", "Days before an AS2 "
                                 "certificate ends", labels=["owner", "fingerprint"])  # fmt: skip
        for certificate in certificate_report(self.pipeline.config, utcnow()):
            if certificate.fingerprint != "-":
                days.add_metric([certificate.owner, certificate.fingerprint],
                                certificate.days_left)  # fmt: skip
        yield days


def _latency(latencies: list[tuple[str, float]]) -> Metric:
    histogram = HistogramMetricFamily("acorn_ack_latency_seconds", "Seconds from sending an "
                                      "interchange to its 997", labels=["partner"])  # fmt: skip
    by_partner: dict[str, list[float]] = defaultdict(list)
    for partner, seconds in latencies:
        by_partner[partner].append(seconds)
    for partner, values in sorted(by_partner.items()):
        buckets = [(str(bound), float(sum(v <= bound for v in values))) for bound in _BUCKETS]
        buckets.append(("+Inf", float(len(values))))
        histogram.add_metric([partner], buckets, sum_value=sum(values))
    return histogram


def render(pipeline: Pipeline) -> bytes:
    """The metrics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(pipeline))
    return generate_latest(registry)
