"""The AS2 load benchmark's machinery, small (its figures are ``make bench``'s, never a
timed test): ``acorn serve`` as its own process, concurrent clients, every answer a 200
with a valid signed MDN carrying the sender's MIC, and exactly one delivery each."""

from __future__ import annotations

from bench.bench_as2 import run_load


def test_concurrent_signed_and_encrypted_posts_to_acorn_serve_each_get_one_delivery() -> None:
    result = run_load(messages=16, clients=6)
    assert result.ok_answers == 16
    assert result.valid_mdns == 16
    assert result.deliveries == 16
    assert len(result.latencies) == 16 and all(t > 0 for t in result.latencies)
