"""Benchmark: validation of Amazon 850s with the pyx12-driven engine.

Measures, side by side in one run on the same generated corpus (20-line 850s):

* reading only (``gateway.x12.parse``),
* full validation (``gateway.validation.validate``: envelope checks + pyx12 walk per set),
* one group of many sets, to show the cost per set stays flat (pyx12's own driver checks
  ST02 against a list, quadratic in the sets of a group; ours uses a set).

Run with ``make bench`` (or ``python -m bench.bench_validation``). Prints a markdown table.
"""

from __future__ import annotations

import random
import time

from bench.corpus import interchange, purchase_order_set
from gateway.validation import default_maps, validate
from gateway.x12 import parse


def _document(sets: int, seed: int = 1) -> tuple[bytes, int]:
    rng = random.Random(seed)
    payload = [purchase_order_set(rng, n, 20) for n in range(1, sets + 1)]
    segments = sum(len(p) for p in payload)
    return interchange(payload, isa13=1, gs06=1), segments


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run() -> list[tuple[str, str]]:
    """Run the benchmark; returns (measure, figure) rows."""
    default_maps()  # load maps outside the timings
    validate(_document(1)[0])
    rows: list[tuple[str, str]] = []
    small, small_segments = _document(200)
    read = _best(lambda: parse(small))
    full = _best(lambda: validate(small), repeat=2)
    rows.append(("850 sets of 20 lines, read only (parse)", f"{200 / read:,.0f} sets/s"))
    rows.append(("850 sets of 20 lines, validate (pyx12 engine)", f"{200 / full:,.0f} sets/s"))
    rows.append(("segments/s, validate", f"{small_segments / full:,.0f}"))
    rows.append(("validate / read time ratio", f"{full / read:,.0f}x"))
    large, _ = _document(2000, seed=2)
    per_set_large = _best(lambda: validate(large), repeat=1) / 2000
    rows.append(("cost per set, 200 sets in one group", f"{full / 200 * 1e3:.2f} ms"))
    rows.append(("cost per set, 2000 sets in one group", f"{per_set_large * 1e3:.2f} ms"))
    return rows


def main() -> None:
    """Print the table."""
    print("| validation measure | figure |")
    print("| --- | --- |")
    for name, figure in run():
        print(f"| {name} | {figure} |")


if __name__ == "__main__":
    main()
