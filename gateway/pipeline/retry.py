"""How long to wait before trying a transfer again."""

from __future__ import annotations


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones: 30 s doubling, capped
    at one hour."""
    return float(min(30 * 2 ** max(attempts - 1, 0), 3600))
