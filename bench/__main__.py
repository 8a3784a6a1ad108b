"""`make bench` / `python -m bench`: every benchmark, side by side in one run.

Prints markdown tables; the figures of a reference run are kept in bench/RESULTS.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench import bench_as2, bench_validation

HERE = Path(__file__).resolve().parent


def main() -> None:
    """Run the X12 reader benchmark (in its own process), the validation benchmark and the
    AS2 load."""
    print("## X12 reader\n", flush=True)
    subprocess.run([sys.executable, str(HERE / "bench_x12.py")], check=True)
    print("\n## Validation\n", flush=True)
    bench_validation.main()
    print("\n## AS2 load (500 signed and encrypted 850s, 20 clients)\n", flush=True)
    bench_as2.main([])


if __name__ == "__main__":
    main()
