"""``acorn doctor``: can the gateway reach each partner?

Per partner and endpoint: the transport, whether it connects, the host key the server
showed and whether it matches the pin (SFTP); for the folder transport, whether its two
folders exist and are writable. Exit 0 when everything answers, 3 when something does
not (design.md: a transport or service unreachable).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from gateway.cli.setup import add_config_argument
from gateway.config import load_config
from gateway.transports.sftp import SftpTransport

EXIT_OK, EXIT_UNREACHABLE = 0, 3


def add_doctor(commands: Any) -> None:
    """Register ``doctor``."""
    parser = commands.add_parser(
        "doctor", help="check that every partner's transport answers",
        description="Connect to each partner endpoint and report host keys and folders.",
    )  # fmt: skip
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.set_defaults(run=run_doctor)


def checks(config: Any) -> list[dict[str, Any]]:
    """One entry per partner endpoint (see the module docstring)."""
    found: list[dict[str, Any]] = []
    for partner in config.partners:
        if partner.transport == "sftp":
            for result in SftpTransport("sftp", partner.sftp).probe():
                found.append({"partner": partner.name, "transport": "sftp", **result})
            continue
        assert partner.folder is not None
        for role, folder in (("incoming", partner.folder.incoming),
                             ("outgoing", partner.folder.outgoing)):  # fmt: skip
            usable = folder.is_dir() and os.access(folder, os.R_OK | os.W_OK | os.X_OK)
            found.append({"partner": partner.name, "transport": "folder", "endpoint": role,
                          "where": str(folder), "connects": usable, "host_key": None,
                          "pinned": None,
                          "error": None if usable else "missing or not writable"})  # fmt: skip
    return found


def run_doctor(args: argparse.Namespace) -> int:
    """Print the checks; 3 when any endpoint does not answer."""
    results = checks(load_config(args.config))
    if args.json:
        print(json.dumps({"checks": results}, indent=2))
    else:
        for r in results:
            state = "ok" if r["connects"] else "UNREACHABLE"
            key = f"  host key {r['host_key']} ({'pinned' if r['pinned'] else 'NOT pinned'})" \
                if r["host_key"] else ""  # fmt: skip
            error = f"  {r['error']}" if r["error"] else ""
            print(f"{r['partner']} {r['transport']} {r['endpoint']} {r['where']}: {state}"
                  f"{key}{error}")  # fmt: skip
    return EXIT_OK if all(r["connects"] for r in results) else EXIT_UNREACHABLE
