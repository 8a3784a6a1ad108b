"""``acorn operator hash``: the scrypt hash of a password for ``[[web.operators]]``.

The password is read without echo from the terminal (or from standard input when it is not
a terminal, e.g. ``printf '%s' "$PW" | acorn operator hash``); it is never an argument, so it
stays out of shell history and process listings.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from gateway.web.auth import hash_password

EXIT_OK, EXIT_USAGE = 0, 2


def add_operator(commands: Any) -> None:
    """Register ``operator hash``."""
    operator = commands.add_parser("operator", help="dashboard and API operators")
    actions = operator.add_subparsers(dest="operator_command", metavar="ACTION", required=True)
    hashing = actions.add_parser(
        "hash", help="print the password hash of an operator",
        description="Read a password (no echo) and print its scrypt hash for acorn.toml.",
    )  # fmt: skip
    hashing.add_argument("--json", action="store_true", help='print {"password_hash": ...}')
    hashing.set_defaults(run=run_hash)


def run_hash(args: argparse.Namespace) -> int:
    """Print the hash; 2 for an empty password."""
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("acorn: an empty password is refused", file=sys.stderr)
        return EXIT_USAGE
    digest = hash_password(password)
    print(json.dumps({"password_hash": digest}) if args.json else digest)
    return EXIT_OK
