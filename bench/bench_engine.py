"""Benchmark of issue 10: the validation engines and the pipeline, side by side in one run.

On one deterministic corpus (by default 200 files, each one interchange of 50 Amazon-style
850s of exactly 20 PO1 lines, every PO number unique), written to a temporary directory,
it measures in this order, every timed measure pinned to one CPU:

* the floor: read each file and split it into segments and elements, nothing else;
* ``gateway.validation.validate(path, engine="pyx12")`` over every file (the reference);
* ``validate(path, engine="fast")`` over every file (the tables compiled from the maps);
* end-to-end inbound on SQLite: ``pick_up`` (timed apart), then ``process_received``
  (parse, validate, map, persist, 997 queued), then ``deliver`` (the purchase-order JSON
  files written to the ERP inbox, exactly once);
* outbound: the demo ERP (``gateway.sandbox.erp.acknowledgment``) answers every delivered
  PO with an 855 accepting every line (untimed), then ``collect_exports`` +
  ``render_exports`` (claim, render, rules, validate, persist);

and prints one markdown table (sets/s, ratio to the floor and to pyx12, all from this run).
Then one ~50 MB interchange of 850s (several sets of 100,000 PO1 lines among ordinary ones)
is validated with the fast engine in a fresh child process that reports its peak RSS.

Both engines must accept every set of the corpus (a benchmark of a rejecting path measures
nothing); a line saying FAILED is printed otherwise. Timings are never asserted anywhere;
``tests/bench/test_bench_engine.py`` runs this machinery small and checks the counts.

Usage: ``python -m bench.bench_engine [--files N] [--skip-pyx12] [--skip-big] ...``
(``--help`` lists every option); ``make bench`` runs it with the other benchmarks.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.corpus import interchange, purchase_order_set
from bench.rss_child import set_statuses
from tests.pipeline.pipeline_sim import GatewayHome
from tests.pipeline.pipeline_sim import make_home as pipeline_home

REPO = Path(__file__).resolve().parents[1]
#: Issue 10's targets, reported against (never asserted).
TARGET_FAST_OVER_PYX12 = 20.0
TARGET_INBOUND_RATE = 1_500.0
TARGET_PEAK_RSS_BYTES = 64_000_000


# -- the corpus ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    """The generated files and what they hold."""

    paths: list[Path]
    sets: int
    segments: int
    bytes: int
    po_numbers: list[str]

    def describe(self) -> str:
        return (f"{len(self.paths)} files, {self.sets:,} 850 sets, {self.segments:,} segments,"
                f" {self.bytes / 1e6:.1f} MB")  # fmt: skip


def _unique_sets(
    rng: random.Random, count: int, lines: int, seen: set[str], first: int = 1
) -> list[list[str]]:
    """``count`` 850s of ``lines`` PO1 lines (ST02 from ``first``) whose PO numbers (BEG03)
    are not in ``seen``; a repeat drawn by chance is drawn again. Adds them to ``seen``."""
    payload: list[list[str]] = []
    while len(payload) < count:
        segments = purchase_order_set(rng, first + len(payload), lines)
        po = segments[1].split("*")[3]
        if po in seen:
            continue
        seen.add(po)
        payload.append(segments)
    return payload


def write_corpus(
    directory: Path, *, files: int = 200, sets: int = 50, lines: int = 20, seed: int = 10
) -> Corpus:
    """``files`` interchanges (ISA13 = GS06 = the file's number) of ``sets`` 850s of exactly
    ``lines`` PO1 lines each, deterministic from ``seed``, written to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    seen: set[str] = set()
    paths: list[Path] = []
    po_numbers: list[str] = []
    segments = size = 0
    for number in range(1, files + 1):
        payload = _unique_sets(rng, sets, lines, seen)
        po_numbers += [s[1].split("*")[3] for s in payload]
        data = interchange(payload, isa13=number, gs06=number)
        path = directory / f"AMAZON_850_{number:09d}.edi"
        path.write_bytes(data)
        paths.append(path)
        segments += 4 + sum(len(s) for s in payload)
        size += len(data)
    return Corpus(paths, files * sets, segments, size, po_numbers)


# -- machine and pinning ------------------------------------------------------------------


def describe_machine(directory: Path | None = None) -> str:
    """Cores, CPU, memory, Python, platform, date, and the filesystem under ``directory``."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, IndexError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    fs = ""
    if directory is not None:
        with contextlib.suppress(OSError):
            mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
            resolved = str(directory.resolve())
            best = max((m for m in mounts if len(m) > 2 and
                        (resolved + "/").startswith(m[1].rstrip("/") + "/")),
                       key=lambda m: len(m[1]), default=None)  # fmt: skip
            if best is not None:
                fs = f"; temp files on {best[2]} ({best[1]})"
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    return (f"{os.cpu_count()} cores ({allowed} usable), {cpu}{memory}; Python"
            f" {platform.python_version()} ({platform.python_implementation()}) on"
            f" {platform.platform()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC{fs}")  # fmt: skip


@contextlib.contextmanager
def pinned_to_one_cpu() -> Iterator[int | None]:
    """Run the block on one CPU (the first this process may use); yields it, or None
    where the platform cannot pin. The former affinity is restored afterwards."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    cpu = min(before)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, before)


# -- the measures -------------------------------------------------------------------------


@dataclass
class Measure:
    """One row of the table. ``sets`` is what the measure went through; ``problems`` are
    what it found wrong (a set not accepted, a count off), empty when all went well."""

    name: str
    sets: int
    seconds: float
    problems: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def rate(self) -> float:
        return self.sets / self.seconds if self.seconds > 0 else float("inf")


def split_floor(paths: Sequence[Path]) -> tuple[int, int]:
    """Read each file and split it into segments and each segment into elements (the
    delimiters read from the ISA); returns (ST segments, segments)."""
    sets = segments = 0
    for path in paths:
        data = path.read_bytes()
        element, terminator = data[3:4], data[105:106]
        for piece in data.split(terminator):
            fields = piece.strip().split(element)
            if fields[0]:
                segments += 1
                if fields[0] == b"ST":
                    sets += 1
    return sets, segments


def measure_floor(corpus: Corpus) -> Measure:
    started = time.perf_counter()
    sets, segments = split_floor(corpus.paths)
    seconds = time.perf_counter() - started
    problems = []
    if (sets, segments) != (corpus.sets, corpus.segments):
        problems.append(f"split {sets} sets and {segments} segments, generated"
                        f" {corpus.sets} and {corpus.segments}")  # fmt: skip
    return Measure("floor: read + split into segments and elements", sets, seconds, problems)


def measure_engine(corpus: Corpus, engine: str) -> Measure:
    """``validate(path, engine=engine)`` over every file; every set must be accepted."""
    from gateway.validation import validate

    problems: list[str] = []
    sets = 0
    reports = []
    started = time.perf_counter()
    for path in corpus.paths:
        reports.append(validate(path, engine=engine))
    seconds = time.perf_counter() - started
    for path, report in zip(corpus.paths, reports, strict=True):
        statuses = set_statuses(report)
        sets += len(statuses)
        bad = [f"{st02} {status}" for st02, status in statuses if status != "accepted"]
        if bad or report.findings or not report.accepted:
            findings = "; ".join(f"{f.element_name or f.segment or f.level}: {f.message}"
                                 for f in report.all_findings()[:3])  # fmt: skip
            problems.append(f"{path.name}: {len(bad)} sets not accepted ({', '.join(bad[:3])})"
                            f" {findings}")  # fmt: skip
    if sets != corpus.sets:
        problems.append(f"{engine} reported {sets} sets, the corpus has {corpus.sets}")
    return Measure(f'validate(path, engine="{engine}")', sets, seconds, problems)


def warm_up_engines(engines: Sequence[str]) -> None:
    """Load the maps (and compile the tables) outside every timing: one small input each;
    then settle the heap as a running gateway does."""
    from gateway.pipeline.context import settle_heap
    from gateway.validation import default_maps, validate

    default_maps()
    rng = random.Random(0)
    small = interchange([purchase_order_set(rng, 1, 2)], isa13=1, gs06=1)
    for engine in engines:
        validate(small, engine=engine)
    settle_heap()  # the collector as in a running gateway (Pipeline.warm)


# -- end to end: a gateway home on SQLite ---------------------------------------------------


def make_home(root: Path, engine: str | None = "fast") -> GatewayHome:
    """A gateway home under ``root`` (SQLite ``root/acorn.db``, one partner ``amazon`` on the
    folder transport, leases long enough for any run) validating with ``engine``."""
    return pipeline_home(root, f"sqlite:///{root / 'acorn.db'}", lease_seconds=3600,
                         engine=engine)  # fmt: skip


@contextlib.contextmanager
def engines_seen() -> Iterator[Counter[str]]:
    """Count the ``engine`` of every validation the inbound pipeline (``validate_document``)
    and the outbound one (``validate``) make through their module-level names (the default
    engine when none is passed), so the report says which engine the pipeline really ran;
    restored afterwards. A pipeline that validates some other way leaves the counter empty
    ("not observed")."""
    from gateway.pipeline import inbound, outbound
    from gateway.validation import DEFAULT_ENGINE

    seen: Counter[str] = Counter()
    patched: list[tuple[Any, str, Callable[..., Any]]] = []
    for module, name in ((inbound, "validate_document"), (outbound, "validate")):
        original = getattr(module, name, None)
        if original is None or not callable(original):
            continue

        where = module.__name__.rsplit(".", 1)[-1]

        def spy(*args: Any, _original: Callable[..., Any] = original, _where: str = where,
                **kwargs: Any) -> Any:  # fmt: skip
            seen[f"{_where}:{kwargs.get('engine') or DEFAULT_ENGINE}"] += 1
            return _original(*args, **kwargs)

        setattr(module, name, spy)
        patched.append((module, name, original))
    try:
        yield seen
    finally:
        for module, name, original in patched:
            setattr(module, name, original)


@dataclass
class PipelineRun:
    """What one end-to-end run did and how long each step took."""

    files: int = 0
    picked_up: int = 0
    pick_up_seconds: float = 0.0
    processed: int = 0
    process_seconds: float = 0.0
    #: CPU time of this process during ``process_received``: what one core spent, without
    #: the waits (fsync) and without time the machine's other load took from it.
    process_cpu_seconds: float = 0.0
    purchase_orders: int = 0
    acks_queued: int = 0
    states: dict[str, int] = field(default_factory=dict)
    delivered: int = 0
    deliver_seconds: float = 0.0
    exports: int = 0
    collected: int = 0
    rendered: int = 0
    outbound_seconds: float = 0.0
    documents_queued: int = 0
    rejected_exports: list[str] = field(default_factory=list)
    engine_setting: str | None = None
    engines: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _load_config(home: GatewayHome, engine: str | None, notes: list[str]) -> Any:
    """The home's configuration (no ACORN_* overrides); without ``validation_engine``
    when this gateway's configuration does not know the setting yet."""
    from gateway.config import load_config
    from gateway.errors import ConfigError

    try:
        return load_config(home.config, environ={})
    except ConfigError as exc:
        if engine is None or "validation_engine" not in str(exc):
            raise
        notes.append(f"acorn.toml: validation_engine refused ({exc}); run without it")
        make_home(home.root, None)
        return load_config(home.config, environ={})


def _erp_acknowledges(home: GatewayHome, today: Any) -> int:
    """The demo ERP: take every PO from the inbox and export an 855 accepting every line
    at the PO price, shipping ``today`` (written as .tmp then renamed); returns how many."""
    from gateway.erp import document_json, parse_document
    from gateway.sandbox import erp as demo_erp

    taken = home.root / "erp" / "taken"
    taken.mkdir(parents=True, exist_ok=True)
    exported = 0
    for path in sorted(home.erp_inbox.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.suffix != ".json":
            continue
        order = parse_document(path.read_bytes())
        os.replace(path, taken / path.name)
        ack = demo_erp.acknowledgment(order, today=today)
        exported += 1
        name = f"{exported:06d}-855-{order.po_number}.json"
        temporary = home.erp_outbox / f"{name}.tmp"
        temporary.write_text(document_json(ack), encoding="utf-8")
        os.replace(temporary, home.erp_outbox / name)
    return exported


def run_pipeline(
    paths: Sequence[Path], root: Path, *, engine: str | None = "fast", outbound: bool = True
) -> PipelineRun:
    """A new gateway home under ``root`` on SQLite; the files dropped in the partner's
    folder; then pick-up, inbound processing, delivery, the ERP's 855s and the outbound
    processing, each step timed on its own."""
    from gateway.pipeline.context import Pipeline
    from gateway.pipeline.delivery import deliver
    from gateway.pipeline.inbound import pick_up, process_received
    from gateway.pipeline.outbound import collect_exports, render_exports
    from gateway.store import Store

    run = PipelineRun(files=len(paths))
    home = make_home(root, engine)
    config = _load_config(home, engine, run.notes)
    run.engine_setting = getattr(config.gateway, "validation_engine", None)
    for path in paths:
        shutil.copyfile(path, home.to_us / path.name)
    store = Store(home.database_url)
    store.upgrade()
    pipeline = Pipeline(config=config, store=store)
    pipeline.warm()  # as `acorn run` does at start-up
    try:
        with engines_seen() as seen:
            started = time.perf_counter()
            run.picked_up = pick_up(pipeline)
            run.pick_up_seconds = time.perf_counter() - started

            started, cpu_started = time.perf_counter(), time.process_time()
            run.processed = process_received(pipeline)
            run.process_seconds = time.perf_counter() - started
            run.process_cpu_seconds = time.process_time() - cpu_started
            with store.transaction() as tx:
                run.purchase_orders = len(tx.documents(type="purchase_order"))
                run.acks_queued = sum(1 for e in tx.exchanges(states=["queued"])
                                      if e.kind == "ack")  # fmt: skip
                run.states = tx.count_states()

            started = time.perf_counter()
            run.delivered = deliver(pipeline)
            run.deliver_seconds = time.perf_counter() - started

            if outbound:
                run.exports = _erp_acknowledges(home, pipeline.today())
                started = time.perf_counter()
                run.collected = collect_exports(pipeline)
                run.rendered = render_exports(pipeline)
                run.outbound_seconds = time.perf_counter() - started
                with store.transaction() as tx:
                    run.documents_queued = sum(1 for e in tx.exchanges(states=["queued"])
                                               if e.kind == "document")  # fmt: skip
                    run.rejected_exports = [
                        f"{e.file_name}: {e.reason}" for e in tx.exchanges(states=["rejected"])
                        if e.kind == "erp_export"
                    ]  # fmt: skip
                    run.states = tx.count_states()
        run.engines = dict(seen)
    finally:
        store.dispose()
    return run


def pipeline_measures(corpus: Corpus, run: PipelineRun, outbound: bool) -> list[Measure]:
    """The table rows of an end-to-end run, each with what it found wrong."""
    inbound_problems = []
    if run.picked_up != len(corpus.paths) or run.processed != len(corpus.paths):
        inbound_problems.append(f"picked up {run.picked_up} and processed {run.processed}"
                                f" of {len(corpus.paths)} files")  # fmt: skip
    if run.purchase_orders != corpus.sets:
        inbound_problems.append(f"{run.purchase_orders} purchase orders of {corpus.sets} sets")
    if run.acks_queued != len(corpus.paths):
        inbound_problems.append(f"{run.acks_queued} 997s queued for {len(corpus.paths)} groups")
    measures = [
        Measure("end-to-end inbound: process_received (parse, validate, map, persist, 997)",
                run.purchase_orders, run.process_seconds, inbound_problems),
        Measure("delivery: deliver (PO JSON files to the ERP inbox, exactly once)",
                run.delivered, run.deliver_seconds,
                [] if run.delivered == corpus.sets
                else [f"{run.delivered} delivered of {corpus.sets}"]),
    ]  # fmt: skip
    if outbound:
        problems = [f"rejected {r}" for r in run.rejected_exports[:3]]
        if run.rendered != corpus.sets or run.documents_queued != corpus.sets:
            problems.append(f"{run.exports} 855s exported, {run.collected} collected,"
                            f" {run.rendered} rendered, {run.documents_queued} queued")  # fmt: skip
        measures.append(Measure("outbound 855: collect_exports + render_exports (render, rules,"
                                " validate, persist)", run.rendered, run.outbound_seconds,
                                problems))  # fmt: skip
    return measures


# -- the 50 MB interchange, in a child process ----------------------------------------------


@dataclass(frozen=True)
class BigFile:
    path: Path
    bytes: int
    sets: int
    big_sets: int
    big_lines: int
    segments: int


def write_big_interchange(
    path: Path, *, megabytes: float = 50, big_sets: int = 3, big_lines: int = 100_000,
    lines: int = 20, seed: int = 50,
) -> BigFile:  # fmt: skip
    """One interchange of one group of 850s, ~``megabytes`` MB, written as it is generated:
    ordinary sets of ``lines`` PO1 lines, with ``big_sets`` sets of ``big_lines`` lines
    spread evenly through it (the first a quarter in, for three)."""
    rng = random.Random(seed)
    target = int(megabytes * 1_000_000)
    head = interchange([], isa13=seed, gs06=seed).decode("ascii").split("~\n")[:2]
    sets = segments = written = placed = 0
    with path.open("w", encoding="ascii", newline="") as out:

        def put(segment_list: list[str]) -> None:
            nonlocal written, segments
            text = "~\n".join(segment_list) + "~\n"
            out.write(text)
            written += len(text)
            segments += len(segment_list)

        put(head)
        while written < target or placed < big_sets:
            due = placed < big_sets and written >= target * (placed + 1) / (big_sets + 1)
            sets += 1
            put(purchase_order_set(rng, sets, big_lines if due else lines))
            placed += due
        put([f"GE*{sets}*{seed}", f"IEA*1*{seed:09d}"])
    return BigFile(path, written, sets, big_sets, big_lines, segments)


def measure_big(path: Path) -> dict[str, Any]:
    """Run :mod:`bench.rss_child` on ``path`` in a child process of this Python (one that
    imports what validating takes and nothing else); its figures."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    child = subprocess.run(
        [sys.executable, "-m", "bench.rss_child", str(path)],
        capture_output=True, text=True, cwd=REPO, env=env, check=False,
    )  # fmt: skip
    if child.returncode != 0:
        raise RuntimeError(f"the RSS child failed ({child.returncode}): {child.stderr[-2000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


# -- the whole benchmark -----------------------------------------------------------------


@dataclass
class Options:
    files: int = 200
    sets: int = 50
    lines: int = 20
    seed: int = 10
    pyx12: bool = True
    pipeline: bool = True
    outbound: bool = True
    big: bool = True
    big_mb: float = 50
    big_sets: int = 3
    big_lines: int = 100_000
    engine_setting: str | None = "fast"


@dataclass
class Result:
    machine: str
    corpus: Corpus
    cpu: int | None
    measures: list[Measure]
    pipeline: PipelineRun | None = None
    big: BigFile | None = None
    big_figures: dict[str, Any] | None = None

    def measure(self, prefix: str) -> Measure | None:
        return next((m for m in self.measures if m.name.startswith(prefix)), None)

    @property
    def problems(self) -> list[str]:
        found = [f"{m.name}: {p}" for m in self.measures for p in m.problems]
        if self.big_figures is not None and not self.big_figures["accepted"]:
            found.append(f"big interchange not accepted: {self.big_figures['statuses']}"
                         f" {self.big_figures['findings']}")  # fmt: skip
        return found


def run(options: Options, workdir: Path, log: Callable[[str], None] = lambda _: None) -> Result:
    """Generate, measure and return everything (prints nothing but ``log`` lines)."""
    corpus = write_corpus(workdir / "corpus", files=options.files, sets=options.sets,
                          lines=options.lines, seed=options.seed)  # fmt: skip
    log(f"corpus: {corpus.describe()} in {workdir / 'corpus'}")
    engines = ["pyx12", "fast"] if options.pyx12 else ["fast"]
    warm_up_engines(engines)
    if options.pipeline:
        # Untimed: imports, SQLAlchemy's statement caches, mapping and rendering paths.
        warm = write_corpus(workdir / "warm-corpus", files=1, sets=1, lines=2, seed=1)
        run_pipeline(warm.paths, workdir / "warm-home", engine=options.engine_setting,
                     outbound=options.outbound)  # fmt: skip
    measures: list[Measure] = []
    pipeline = None
    with pinned_to_one_cpu() as cpu:
        measures.append(measure_floor(corpus))
        log(f"floor: {measures[-1].seconds:.2f} s")
        for engine in engines:
            measures.append(measure_engine(corpus, engine))
            log(f"{engine}: {measures[-1].seconds:.2f} s")
        if options.pipeline:
            pipeline = run_pipeline(corpus.paths, workdir / "home",
                                    engine=options.engine_setting,
                                    outbound=options.outbound)  # fmt: skip
            measures += pipeline_measures(corpus, pipeline, options.outbound)
            log(
                f"pipeline: inbound {pipeline.process_seconds:.2f} s, delivery"
                f" {pipeline.deliver_seconds:.2f} s, outbound {pipeline.outbound_seconds:.2f} s"
            )
    result = Result(describe_machine(workdir), corpus, cpu, measures, pipeline)
    if options.big:
        result.big = write_big_interchange(
            workdir / "big_850.edi", megabytes=options.big_mb, big_sets=options.big_sets,
            big_lines=options.big_lines,
        )  # fmt: skip
        log(f"big interchange: {result.big.bytes / 1e6:.1f} MB, {result.big.sets:,} sets")
        result.big_figures = measure_big(result.big.path)
    return result


# -- the report --------------------------------------------------------------------------


def _ratio(value: float, base: float | None) -> str:
    if not base or value == float("inf"):
        return ""
    r = value / base
    if r >= 1:
        return f"{r:,.1f}x" if r < 100 else f"{r:,.0f}x"
    return f"1/{1 / r:,.1f}" if 1 / r < 100 else f"1/{1 / r:,.0f}"


def table(result: Result) -> list[str]:
    """The markdown table: measure | sets | seconds | sets/s | ratio to floor | to pyx12."""
    floor = result.measure("floor")
    pyx12 = result.measure('validate(path, engine="pyx12")')
    lines = ["| measure | sets | seconds | sets/s | ratio to floor | ratio to pyx12 |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for m in result.measures:
        lines.append(
            f"| {m.name}{' **FAILED**' if m.problems else ''} | {m.sets:,} | {m.seconds:.2f}"
            f" | {m.rate:,.0f} | {_ratio(m.rate, floor.rate if floor else None)}"
            f" | {_ratio(m.rate, pyx12.rate if pyx12 else None)} |"
        )
    return lines


def _mib(kib: float | None) -> str:
    if kib is None:
        return "?"
    return f"{kib / 1024:.1f} MiB ({kib * 1024 / 1e6:.1f} MB)"


def report(result: Result) -> list[str]:
    """Everything to print, markdown."""
    out = [f"Machine: {result.machine}.",
           f"Corpus: {result.corpus.describe()}; every PO1 count exact, every PO number unique.",
           f"Every timed measure pinned to CPU {result.cpu}." if result.cpu is not None
           else "Not pinned to one CPU (not supported here).", ""]  # fmt: skip
    out += table(result)
    out.append("")
    out.append("Ratios are sets/s divided by the floor's and by pyx12's, all from this run"
               " (1/N: N times slower).")  # fmt: skip
    run = result.pipeline
    if run is not None:
        engines = ", ".join(f"{k} x{v}" for k, v in sorted(run.engines.items())) or "not observed"
        out.append(f"Pipeline on SQLite (WAL, synchronous=FULL): validation_engine setting"
                   f" {run.engine_setting!r}; validate calls seen: {engines}; pick_up"
                   f" {run.picked_up} files in {run.pick_up_seconds:.2f} s (not in the table);"
                   f" {run.purchase_orders:,} purchase orders, {run.acks_queued:,} 997s queued,"
                   f" {run.delivered:,} PO files delivered, {run.exports:,} 855s exported,"
                   f" {run.rendered:,} rendered, {run.documents_queued:,} queued;"
                   f" final states {run.states}.")  # fmt: skip
        if run.process_cpu_seconds > 0:
            out.append(f"End-to-end inbound took {run.process_cpu_seconds:.2f} s of CPU time"
                       f" ({run.purchase_orders / run.process_cpu_seconds:,.0f} 850s per CPU"
                       f" second) in {run.process_seconds:.2f} s; the rest is waiting (fsync,"
                       " and the machine's other load).")  # fmt: skip
        out += [f"Note: {n}" for n in run.notes]
    fast = result.measure('validate(path, engine="fast")')
    pyx12 = result.measure('validate(path, engine="pyx12")')
    inbound = result.measure("end-to-end inbound")
    targets = []
    if fast and pyx12:
        ratio = fast.rate / pyx12.rate
        targets.append(
            f"fast engine / pyx12 = {ratio:,.1f}x (target >= "
            f"{TARGET_FAST_OVER_PYX12:.0f}x: {'met' if ratio >= 20 else 'NOT met'})"
        )
    if inbound:
        targets.append(
            f"end-to-end inbound = {inbound.rate:,.0f} 850s/s on SQLite, one core"
            f" (target >= {TARGET_INBOUND_RATE:,.0f}:"
            f" {'met' if inbound.rate >= TARGET_INBOUND_RATE else 'NOT met'})"
        )
    if result.big is not None and result.big_figures is not None:
        big, figures = result.big, result.big_figures
        peak = figures["peak_kib"] * 1024
        out += ["", f"Big interchange (one child process, `validate(path, engine=\"fast\")`):"
                f" {big.bytes / 1e6:.1f} MB, {big.sets:,} 850 sets ({big.big_sets} of"
                f" {big.big_lines:,} PO1 lines), {big.segments:,} segments.", "",
                "| measure | figure |", "| --- | --- |",
                f"| RSS after imports and maps loaded | {_mib(figures['before']['rss_kib'])} |",
                f"| peak RSS (VmHWM) before validating | {_mib(figures['before']['hwm_kib'])} |",
                f"| peak RSS (VmHWM) after validating | {_mib(figures['peak_kib'])} |",
                f"| peak RSS growth while validating | "
                f"{_mib(figures['peak_kib'] - figures['before']['hwm_kib'])} |",
                f"| time | {figures['seconds']:.2f} s ({big.sets / figures['seconds']:,.0f}"
                f" sets/s, {big.bytes / 1e6 / figures['seconds']:.1f} MB/s) |",
                f"| verdict | {'accepted' if figures['accepted'] else 'NOT accepted'}"
                f" ({', '.join(f'{k} {v:,}' for k, v in figures['statuses'].items())}) |",
                ]  # fmt: skip
        targets.append(
            f"peak RSS for the {big.bytes / 1e6:.0f} MB interchange = {peak / 1e6:.1f}"
            f" MB (target <= 64 MB for 50 MB: "
            f"{'met' if peak <= TARGET_PEAK_RSS_BYTES else 'NOT met'})"
        )
    if targets:
        out += ["", "Issue 10 targets (reported, never asserted):"]
        out += [f"- {t}" for t in targets]
    problems = result.problems
    out.append("")
    if problems:
        out.append(f"FAILED: {len(problems)} problem(s); the figures above measure a path that"
                   " is not the accepting one:")  # fmt: skip
        out += [f"- {p}" for p in problems[:20]]
    else:
        out.append("Checks: both engines accepted every set; every count as expected.")
    return out


def parse_args(argv: Sequence[str] | None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_engine", description=__doc__.splitlines()[0]
    )
    defaults = Options()
    parser.add_argument("--files", type=int, default=defaults.files, help="interchange files")
    parser.add_argument("--sets", type=int, default=defaults.sets, help="850s per file")
    parser.add_argument("--lines", type=int, default=defaults.lines, help="PO1 lines per 850")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--skip-pyx12", action="store_true", help="leave the pyx12 engine out")
    parser.add_argument(
        "--skip-pipeline",
        action="store_true",
        help="leave end-to-end inbound, delivery and outbound out",
    )
    parser.add_argument("--skip-outbound", action="store_true", help="leave outbound out")
    parser.add_argument("--skip-big", action="store_true", help="leave the 50 MB file out")
    parser.add_argument(
        "--big-mb", type=float, default=defaults.big_mb, help="size of the big interchange in MB"
    )
    parser.add_argument(
        "--big-sets",
        type=int,
        default=defaults.big_sets,
        help="sets of --big-lines PO1 lines in it",
    )
    parser.add_argument("--big-lines", type=int, default=defaults.big_lines)
    parser.add_argument(
        "--engine-setting",
        default=defaults.engine_setting,
        help='acorn.toml [gateway] validation_engine ("none" to leave it out)',
    )
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args(argv)
    options = Options(
        files=args.files, sets=args.sets, lines=args.lines, seed=args.seed,
        pyx12=not args.skip_pyx12, pipeline=not args.skip_pipeline,
        outbound=not (args.skip_outbound or args.skip_pipeline), big=not args.skip_big,
        big_mb=args.big_mb, big_sets=args.big_sets, big_lines=args.big_lines,
        engine_setting=None if args.engine_setting == "none" else args.engine_setting,
    )  # fmt: skip
    return options, args


def main(argv: Sequence[str] | None = None) -> int:
    """Run and print; returns 1 when a check failed (the figures are printed anyway)."""
    options, args = parse_args(argv)
    def log(line: str) -> None:
        print(f"[bench_engine] {line}", file=sys.stderr, flush=True)

    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = run(options, args.keep, log)
    else:
        with tempfile.TemporaryDirectory(prefix="acorn-bench-") as tmp:
            result = run(options, Path(tmp), log)
    print("\n".join(report(result)), flush=True)
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
