"""``acorn doctor``: can the gateway reach each partner, and are its certificates good?

Per partner and endpoint: the transport, whether it connects, the host key the server
showed and whether it matches the pin (SFTP); for the folder transport, whether its two
folders exist and are writable; for AS2, whether the partner's URL accepts a connection.
Then every AS2 certificate (ours and each partner's) with its fingerprint and days left.
Exit 0 when everything answers and every certificate is valid, 3 when something does not
answer (design.md: a transport or service unreachable), 1 when a certificate has expired,
is not yet valid or cannot be read (a check failed).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from gateway.cli.setup import add_config_argument
from gateway.config import Config, load_config
from gateway.store import utcnow
from gateway.transports.as2.client import probe
from gateway.transports.as2.station import certificate_report
from gateway.transports.sftp import SftpTransport

EXIT_OK, EXIT_FAILED, EXIT_UNREACHABLE = 0, 1, 3


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
        if partner.transport == "as2":
            assert partner.as2 is not None
            error = probe(partner.as2.url, partner.as2.connect_timeout)
            found.append({"partner": partner.name, "transport": "as2", "endpoint": "url",
                          "where": partner.as2.url, "connects": error is None,
                          "host_key": None, "pinned": None, "error": error})  # fmt: skip
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


def certificates(config: Config) -> list[dict[str, Any]]:
    """Every AS2 certificate with its days left (see the module docstring)."""
    return [
        {"owner": c.owner, "path": c.path, "subject": c.subject, "fingerprint": c.fingerprint,
         "not_after": None if c.subject == "-" else c.not_after.isoformat(),
         "days_left": c.days_left, "problem": c.problem}
        for c in certificate_report(config, utcnow())
    ]  # fmt: skip


def run_doctor(args: argparse.Namespace) -> int:
    """Print the checks; 3 when any endpoint does not answer, 1 when a certificate is not
    valid."""
    config = load_config(args.config)
    results = checks(config)
    certs = certificates(config)
    if args.json:
        print(json.dumps({"checks": results, "certificates": certs}, indent=2))
    else:
        for r in results:
            state = "ok" if r["connects"] else "UNREACHABLE"
            key = f"  host key {r['host_key']} ({'pinned' if r['pinned'] else 'NOT pinned'})" \
                if r["host_key"] else ""  # fmt: skip
            error = f"  {r['error']}" if r["error"] else ""
            print(f"{r['partner']} {r['transport']} {r['endpoint']} {r['where']}: {state}"
                  f"{key}{error}")  # fmt: skip
        for c in certs:
            state = c["problem"] or f"{c['days_left']} days left"
            print(f"certificate {c['owner']} {c['path']}: {c['subject']} {c['fingerprint']}: "
                  f"{state}")  # fmt: skip
    if not all(r["connects"] for r in results):
        return EXIT_UNREACHABLE
    return EXIT_FAILED if any(c["problem"] for c in certs) else EXIT_OK
