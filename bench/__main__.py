"""`make bench` / `python -m bench`: every benchmark, side by side in one run.

Prints markdown tables; the figures of a reference run are kept in bench/RESULTS.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench import bench_as2, bench_engine, bench_validation

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run the X12 reader benchmark (in its own process), the validation benchmark, the
    engines and pipeline benchmark of issue 10 (full corpus: several minutes) and the AS2
    load; returns 1 when the issue 10 benchmark found a set not accepted or a count off."""
    print("## X12 reader\n", flush=True)
    subprocess.run([sys.executable, str(HERE / "bench_x12.py")], check=True)
    print("\n## Validation\n", flush=True)
    bench_validation.main()
    print("\n## Validation engines and pipeline (issue 10)\n", flush=True)
    engine_status = bench_engine.main([])
    print("\n## AS2 load (500 signed and encrypted 850s, 20 clients)\n", flush=True)
    bench_as2.main([])
    return engine_status


if __name__ == "__main__":
    sys.exit(main())
