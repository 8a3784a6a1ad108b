"""The ``acorn`` command line (also ``python -m gateway``).

Exit codes (design.md): 0 ok; 1 documents rejected or a check failed; 2 usage or
configuration error, or a file that cannot be read; 3 a transport or service unreachable.
Every command that prints data has ``--json``. A person never sees a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from gateway import __version__
from gateway.cli.chain import add_chain
from gateway.cli.config_cmd import add_config_commands
from gateway.cli.demo import add_demo
from gateway.cli.doctor import add_doctor
from gateway.cli.inspect import add_inspect
from gateway.cli.operator import add_operator
from gateway.cli.po import add_po
from gateway.cli.process import add_process
from gateway.cli.render import add_render
from gateway.cli.run import add_run
from gateway.cli.sandbox import add_sandbox
from gateway.cli.schemas import add_schemas
from gateway.cli.serve import add_serve
from gateway.cli.translate import add_translate
from gateway.cli.tx import add_tx
from gateway.cli.validate import add_validate
from gateway.errors import AcornError

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with exit code 2 through ``main``'s return."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every ``acorn`` command."""
    parser = _Parser(prog="acorn", description="EDI gateway for Amazon Vendor Central (X12).")
    parser.add_argument("--version", action="version", version=f"acorn-gateway {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    add_validate(commands)
    add_inspect(commands)
    add_schemas(commands)
    add_translate(commands)
    add_render(commands)
    add_process(commands)
    add_chain(commands)
    add_tx(commands)
    add_po(commands)
    add_doctor(commands)
    add_serve(commands)
    add_run(commands)
    add_config_commands(commands)
    add_demo(commands)
    add_sandbox(commands)
    add_operator(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``acorn`` with ``argv`` (default: the process arguments); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.run(args))
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    except AcornError as exc:
        print(f"acorn: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        # A bug of ours must not reach an operator as a traceback; ACORN_DEBUG=1 shows it.
        if os.environ.get("ACORN_DEBUG") == "1":
            raise
        print(
            f"acorn: internal error ({type(exc).__name__}: {exc}); set ACORN_DEBUG=1 for"
            " details and report it with the input",
            file=sys.stderr,
        )
        return EXIT_REJECTED
