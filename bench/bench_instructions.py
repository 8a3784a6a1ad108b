"""Instructions per 850 set, counted by valgrind: a measure the machine's other load cannot move.

The machine is shared: the same code measures up to 1.5 times slower or faster from one hour
to the next (bench/RESULTS.md), so a change of 10% cannot be seen in seconds. valgrind's
cachegrind counts the instructions the process executes, the same from run to run. Each step
below runs twice in a child process under valgrind, once over 1 file and once over 1 + N
files of the issue 10 corpus (50 850s of 20 PO1 lines each); the difference divided by the
extra sets is what one set costs, start-up and map compilation cancelling out:

* ``read``: ``read_events(whole_sets=True)`` into a ``DocumentBuilder`` (the X12 reader);
* ``validate``: ``validate_document(data, engine="fast")`` (reading and validating);
* ``map``: ``translate`` of every set (850 to ``PurchaseOrder``) and its JSON;
* ``inbound``: ``process_received`` on SQLite (parse, validate, map, persist, 997).

Usage: ``python -m bench.bench_instructions [--files N] [STEP ...]`` (needs valgrind:
Debian's package ``valgrind``). Compare two versions of the code by running it in each.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.bench_engine import write_corpus

STEPS = ("read", "validate", "map", "inbound")
SETS_PER_FILE = 50
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def run_step(step: str, paths: Sequence[Path], workdir: Path) -> int:
    """Do ``step`` over ``paths`` (the first file first, as warm-up, then the rest); returns
    how many sets went through, for the caller to check."""
    from gateway.erp import document_json
    from gateway.mapping import translate
    from gateway.validation import prepare, validate_document
    from gateway.x12 import DocumentBuilder, read_events

    prepare("fast")
    sets = 0
    if step == "inbound":
        return _inbound(paths, workdir)
    for path in paths:
        data = path.read_bytes()
        if step == "read":
            builder = DocumentBuilder()
            for event in read_events(io.BytesIO(data), whole_sets=True):
                builder.add(event)
            tree = builder.document()
        else:
            _report, tree = validate_document(data, engine="fast")
        transactions = [t for i in tree.interchanges for g in i.groups for t in g.transactions]
        if step == "map":
            for transaction in transactions:
                document_json(translate(transaction))
        sets += len(transactions)
    return sets


def _inbound(paths: Sequence[Path], workdir: Path) -> int:
    from bench.bench_engine import _load_config, make_home
    from gateway.pipeline.context import Pipeline
    from gateway.pipeline.inbound import pick_up, process_received
    from gateway.store import Store

    home = make_home(workdir / "home")
    store = Store(home.database_url)
    store.upgrade()
    pipeline = Pipeline(config=_load_config(home, "fast", []), store=store)
    pipeline.warm()
    sets = 0
    try:
        for batch in (paths[:1], paths[1:]):  # the first file warms every statement
            for path in batch:
                shutil.copyfile(path, home.to_us / path.name)
            pick_up(pipeline)
            process_received(pipeline)
        with store.transaction() as tx:
            sets = len(tx.documents(type="purchase_order"))
    finally:
        store.dispose()
    return sets


def count(step: str, files: int, corpus: Path) -> int:
    """Instructions valgrind counts for ``step`` over ``files`` files of ``corpus``."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    command = ["valgrind", "--tool=cachegrind", "--cache-sim=no",
               "--cachegrind-out-file=/dev/null", sys.executable, "-m",
               "bench.bench_instructions", "--child", step, str(files), str(corpus)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False,
                          cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    found = _REFS.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"valgrind {step} over {files} files failed: {done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_instructions",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("steps", nargs="*", metavar="STEP", help=f"of {', '.join(STEPS)} (all)")
    parser.add_argument("--files", type=int, default=4, help="extra files of 50 sets")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        step, files, corpus = options.child
        paths = sorted(Path(corpus).glob("*.edi"))[: int(files)]
        with tempfile.TemporaryDirectory(prefix="acorn-instr-") as workdir:
            sets = run_step(step, paths, Path(workdir))
        if sets != SETS_PER_FILE * len(paths):
            print(f"{step}: {sets} sets, expected {SETS_PER_FILE * len(paths)}", file=sys.stderr)
            return 1
        return 0
    unknown = sorted(set(options.steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown step {', '.join(unknown)}: the steps are {', '.join(STEPS)}")
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="acorn-instr-corpus-") as directory:
        corpus = Path(directory)
        write_corpus(corpus, files=1 + options.files, sets=SETS_PER_FILE)
        print("| step | instructions per 850 set |", "| --- | ---: |", sep="\n")
        for step in options.steps or STEPS:
            extra = count(step, 1 + options.files, corpus) - count(step, 1, corpus)
            print(f"| {step} | {extra // (SETS_PER_FILE * options.files):,} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
