"""Retention: evidence is kept ``gateway.retention_days`` (default 400; reliability.md policy),
then its bytes are dropped by a scheduled job; rows, envelopes and timelines stay."""

from __future__ import annotations

from datetime import timedelta

from gateway.pipeline.context import Pipeline

#: States in which an exchange's bytes are no longer needed by the pipeline.
TERMINAL = ("delivered", "processed", "rejected", "duplicate", "quarantined", "rendered",
            "sent", "failed", "superseded", "reprocessed")  # fmt: skip


def purge(pipeline: Pipeline) -> int:
    """Purge the evidence older than the retention period; returns how many exchanges."""
    before = pipeline.now() - timedelta(days=pipeline.config.gateway.retention_days)
    with pipeline.store.transaction() as tx:
        return tx.purge_evidence(before, TERMINAL)
