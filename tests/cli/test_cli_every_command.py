"""Every ``acorn`` command has ``--help`` (exit 0) and ``--json`` (design.md: every command
that prints data), found by walking the parser so that a new command cannot forget them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from gateway.cli import build_parser, main


def commands() -> list[tuple[list[str], argparse.ArgumentParser]]:
    found: list[tuple[list[str], argparse.ArgumentParser]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*prefix, name])
                return
        found.append((prefix, parser))

    walk(build_parser(), [])
    return found


def test_the_walk_finds_the_operator_commands() -> None:
    names = {" ".join(prefix) for prefix, _ in commands()}
    assert {"run", "serve", "doctor", "tx list", "tx show", "tx resend", "tx reprocess",
            "po status", "init", "config check", "db upgrade"} <= names  # fmt: skip


@pytest.mark.parametrize("command", [prefix for prefix, _ in commands()], ids=" ".join)
def test_every_command_has_help_and_json(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: acorn {' '.join(command)}")
    assert "--json" in out


def test_db_upgrade_says_the_schema_is_current_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["db", "upgrade", "--config", str(tmp_path / "acorn.toml"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["current"] is True and report["database"].startswith("sqlite:///")


def test_a_missing_configuration_is_exit_2_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["run"], ["serve"], ["doctor"], ["tx", "list"], ["po", "status", "X"]):
        assert main([*command, "--config", str(tmp_path / "none.toml")]) == 2
        err = capsys.readouterr().err
        assert "cannot read" in err and "Traceback" not in err
