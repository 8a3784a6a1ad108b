"""The instruction counter's steps (bench/bench_instructions.py) do what they name over the
corpus, each set once, so that the counts valgrind takes of them measure that work. valgrind
itself is not run here (minutes per step); `python -m bench.bench_instructions` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import bench_instructions
from bench.bench_engine import write_corpus


@pytest.mark.parametrize("step", bench_instructions.STEPS)
def test_each_step_takes_every_set_of_the_files_it_is_given(tmp_path: Path, step: str) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, files=2, sets=bench_instructions.SETS_PER_FILE, lines=3)
    paths = sorted(corpus.glob("*.edi"))
    work = tmp_path / "work"
    work.mkdir()
    assert bench_instructions.run_step(step, paths, work) == 2 * bench_instructions.SETS_PER_FILE
    assert bench_instructions.main(["--child", step, "1", str(corpus)]) == 0


def test_an_unknown_step_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as stopped:
        bench_instructions.main(["nosuchstep"])
    assert stopped.value.code == 2
