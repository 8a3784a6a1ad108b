"""The issue 10 benchmark's machinery, small (its figures are ``make bench``'s, never a timed
test): a deterministic corpus, the floor, both engines accepting every set, end-to-end
inbound, delivery and outbound on SQLite with the expected counts, the table with every row,
and the big interchange validated in a child process that reports its memory.

No ``__init__.py`` here: with one, pytest would name this package ``bench`` and shadow the
benchmarks' own package."""

from __future__ import annotations

from pathlib import Path

from bench import bench_engine
from bench.bench_engine import Options, split_floor, write_big_interchange, write_corpus


def test_the_corpus_is_deterministic_with_exact_line_counts_and_unique_po_numbers(
    tmp_path: Path,
) -> None:
    first = write_corpus(tmp_path / "a", files=3, sets=4, lines=5, seed=3)
    again = write_corpus(tmp_path / "b", files=3, sets=4, lines=5, seed=3)
    assert [p.read_bytes() for p in first.paths] == [p.read_bytes() for p in again.paths]
    assert first.sets == 12 and len(set(first.po_numbers)) == 12
    assert split_floor(first.paths) == (12, first.segments)
    text = first.paths[0].read_text()
    sets = text.split("ST*850*")[1:]
    assert len(sets) == 4
    assert all(s.count("\nPO1*") == 5 for s in sets)


def test_the_big_interchange_holds_its_big_sets_among_ordinary_ones(tmp_path: Path) -> None:
    big = write_big_interchange(tmp_path / "big.edi", megabytes=0.05, big_sets=2, big_lines=300)
    text = big.path.read_text()
    assert len(text) == big.bytes >= 50_000
    lines_per_set = [s.count("\nPO1*") for s in text.split("ST*850*")[1:]]
    assert len(lines_per_set) == big.sets
    assert lines_per_set.count(300) == 2
    assert set(lines_per_set) == {20, 300}
    assert lines_per_set[0] == 20 and lines_per_set[-1] == 20  # spread, not at the ends
    assert split_floor([big.path]) == (big.sets, big.segments)


def test_the_benchmark_small_counts_every_set_and_prints_every_row(tmp_path: Path) -> None:
    options = Options(files=2, sets=3, lines=2, big_mb=0.05, big_sets=2, big_lines=300)
    result = bench_engine.run(options, tmp_path)

    assert result.problems == []
    assert result.corpus.sets == 6 and len(result.corpus.paths) == 2
    names = [m.name for m in result.measures]
    assert names == [
        "floor: read + split into segments and elements",
        'validate(path, engine="pyx12")',
        'validate(path, engine="fast")',
        "end-to-end inbound: process_received (parse, validate, map, persist, 997)",
        "delivery: deliver (PO JSON files to the ERP inbox, exactly once)",
        "outbound 855: collect_exports + render_exports (render, rules, validate, persist)",
    ]
    assert all(m.sets == 6 and m.seconds > 0 and not m.problems for m in result.measures)

    run = result.pipeline
    assert run is not None
    assert (run.picked_up, run.processed) == (2, 2)
    assert run.purchase_orders == 6
    assert run.acks_queued == 2  # one 997 per group
    assert run.delivered == 6
    assert (run.exports, run.collected, run.rendered, run.documents_queued) == (6, 6, 6, 6)
    assert run.rejected_exports == []
    assert run.engine_setting in ("fast", None)
    assert sum(run.engines.values()) > 0  # the pipeline's validate calls were seen
    assert run.process_cpu_seconds > 0

    assert result.big is not None and result.big_figures is not None
    assert result.big_figures["accepted"]
    assert result.big_figures["statuses"] == {"accepted": result.big.sets}
    assert result.big_figures["peak_kib"] >= result.big_figures["before"]["hwm_kib"] > 0

    printed = "\n".join(bench_engine.report(result))
    rows = [line for line in bench_engine.table(result)[2:]]
    assert len(rows) == len(names)
    for name, row in zip(names, rows, strict=True):
        assert row.startswith(f"| {name} | 6 |")
        assert row.count("|") == 7
    assert "FAILED" not in printed
    assert "Machine: " in printed and "peak RSS (VmHWM) after validating" in printed
    assert "End-to-end inbound took " in printed and "850s per CPU second" in printed


def test_the_memory_probe_loads_only_what_validating_takes(tmp_path: Path) -> None:
    """The big interchange's RSS is that of a process that validates: the probe's process
    never imports the pipeline, the store or the test simulators (whose weight would be
    charged to validation)."""
    import json
    import subprocess
    import sys

    big = write_big_interchange(tmp_path / "big.edi", megabytes=0.02, big_sets=1, big_lines=50)
    script = (
        "import json, sys; from pathlib import Path; from bench.rss_child import measure; "
        "figures = measure(Path(sys.argv[1])); "
        "heavy = sorted(m for m in ('sqlalchemy', 'gateway.pipeline', 'gateway.store', "
        "'tests.pipeline.pipeline_sim', 'paramiko', 'cryptography') if m in sys.modules); "
        "print(json.dumps({'heavy': heavy, 'accepted': figures['accepted']}))"
    )
    repo = Path(bench_engine.__file__).resolve().parents[1]
    child = subprocess.run([sys.executable, "-c", script, str(big.path)], cwd=repo,
                           capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    seen = json.loads(child.stdout.strip().splitlines()[-1])
    assert seen == {"heavy": [], "accepted": True}
