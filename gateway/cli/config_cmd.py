"""``acorn init DIR`` and ``acorn config check``.

``init`` writes a commented starting ``acorn.toml`` and the directories it names (the ERP
inbox and outbox, a folder pair standing in for the partner, ``keys/``), never overwriting
an existing configuration. ``config check`` reads the configuration as ``acorn run`` would
and goes further: every file it names exists and loads (AS2 certificates and keys with
their passphrases, SFTP keys and pinned host keys), every folder exists. Each problem is
printed with its key path; exit 0 when there is none, 2 otherwise (design.md).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from gateway.cli.setup import add_config_argument
from gateway.config import Config, load_config
from gateway.errors import AcornError, ConfigError
from gateway.transports.as2.station import PartnerStation, Station

EXIT_OK, EXIT_USAGE = 0, 2

STARTER = """\
# acorn-gateway configuration. Every setting is documented in gateway/config.py;
# ACORN_<SETTING> environment variables override [gateway] (e.g. ACORN_DATABASE).
# Check it with:  acorn config check --config {config}

[gateway]
# SQLite for one process; PostgreSQL for several:
#   database = "postgresql+psycopg://acorn@127.0.0.1:5432/acorn"  (password: ACORN_DATABASE)
database = "sqlite:///acorn.db"
erp_inbox = "erp/inbox"          # purchase orders for the ERP, as JSON (schemas/)
erp_outbox = "erp/outbox"        # the ERP drops 855/856/810/846 exports here
ack_timeout_hours = 24           # an interchange without its 997 after this is overdue
po_ack_due_hours = 24            # Amazon wants the 855 within 24 hours
http_host = "127.0.0.1"          # POST /as2, /healthz, /readyz, /metrics, /api
http_port = 8080
retention_days = 400             # raw bytes and MDNs kept as evidence this long

[schedule]                       # seconds between runs of each job of `acorn run`
process_seconds = 5
outbox_seconds = 5
send_seconds = 5
clocks_seconds = 60

[alerts]
transport_down_minutes = 15
certificate_warning_days = [30, 14, 7]
# [alerts.webhook]
# url = "https://hooks.example.com/acorn"
# token_env = "ACORN_WEBHOOK_TOKEN"      # sent as Authorization: Bearer ...
# [alerts.email]
# host = "smtp.example.com"
# sender = "edi@example.com"
# recipients = ["edi-team@example.com"]
# user = "edi@example.com"
# password_env = "ACORN_SMTP_PASSWORD"

# Our AS2 station (needed by partners on AS2):
# [as2]
# as2_id = "ACMEVENDOR"
# mdn_url = "https://edi.example.com/as2/mdn"
# [as2.key]
# certificate = "keys/as2.cert.pem"
# private_key = "keys/as2.key.pem"
# passphrase_env = "ACORN_AS2_KEY_PASSPHRASE"

[[partners]]
name = "amazon"
id = "ZZ:AMAZON"                 # the partner's ISA05:ISA06 (from Amazon's EDI setup)
our_id = "ZZ:ACMEVENDOR"         # ours: ISA07:ISA08 of what Amazon sends
usage = "T"                      # T while testing with Amazon, P in production
transport = "folder"             # folder (to try it out), sftp or as2
poll_seconds = 60
[partners.folder]
incoming = "partner/to-us"
outgoing = "partner/from-us"
# For AS2 instead:
# transport = "as2"
# [partners.as2]
# as2_id = "AMAZON"
# url = "https://as2.amazon.example/as2"
# certificates = ["keys/amazon.cert.pem"]
# For SFTP instead:
# transport = "sftp"
# [partners.sftp]
# inbox = "/download"
# outbox = "/upload"
# [partners.sftp.download]
# host = "sftp.example.com"
# user = "acme"
# private_key = "keys/amazon_ed25519"
# known_hosts = "keys/amazon_known_hosts"
"""

FOLDERS = ("erp/inbox", "erp/outbox", "partner/to-us", "partner/from-us", "keys")


def add_config_commands(commands: Any) -> None:
    """Register ``init`` and ``config check``."""
    init = commands.add_parser(
        "init", help="write a starting acorn.toml and its folders",
        description="Write DIR/acorn.toml (commented) and the folders it names.",
    )  # fmt: skip
    init.add_argument("directory", type=Path, metavar="DIR")
    init.add_argument("--json", action="store_true", help="print what was written as JSON")
    init.set_defaults(run=run_init)
    config = commands.add_parser("config", help="configuration: check it")
    actions = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check", help="check the configuration and every file it names",
        description="Read acorn.toml like acorn run, load every key and certificate, check "
        "every folder; print each problem with its key path.",
    )  # fmt: skip
    add_config_argument(check)
    check.add_argument("--json", action="store_true", help="print the problems as JSON")
    check.set_defaults(run=run_check)


def run_init(args: argparse.Namespace) -> int:
    """Write the starting configuration; 2 when one exists already."""
    root: Path = args.directory
    config = root / "acorn.toml"
    if config.exists():
        raise ConfigError(f"{config} exists already; it is never overwritten")
    made = []
    for folder in FOLDERS:
        (root / folder).mkdir(parents=True, exist_ok=True)
        made.append(str(root / folder))
    os.chmod(root / "keys", 0o700)
    config.write_text(STARTER.format(config=config), encoding="utf-8")
    if args.json:
        print(json.dumps({"config": str(config), "folders": made}))
    else:
        print(f"wrote {config}")
        for folder in made:
            print(f"made {folder}/")
        print(f"next: edit it, then `acorn config check --config {config}`")
    return EXIT_OK


def problems(config: Config) -> list[dict[str, str]]:
    """Every problem of a configuration that loaded: files and folders it names."""
    found: list[dict[str, str]] = []

    def problem(key: str, message: str) -> None:
        found.append({"key": key, "problem": message})

    for key in ("erp_inbox", "erp_outbox"):
        folder = getattr(config.gateway, key)
        if not folder.is_dir():
            problem(f"gateway.{key}", f"folder {str(folder)!r} does not exist")
    if config.as2 is not None:
        try:
            Station.load(config.as2)
        except AcornError as exc:
            problem("as2.key", str(exc))
    for index, partner in enumerate(config.partners):
        where = f"partners.{index}({partner.name})"
        if partner.folder is not None and partner.transport == "folder":
            for role in ("incoming", "outgoing"):
                if not getattr(partner.folder, role).is_dir():
                    problem(f"{where}.folder.{role}", "folder does not exist")
        if partner.as2 is not None and partner.transport == "as2":
            try:
                PartnerStation.load(partner.name, partner.as2)
            except AcornError as exc:
                problem(f"{where}.as2.certificates", str(exc))
        if partner.sftp is not None and partner.transport == "sftp":
            for role in ("download", "upload"):
                endpoint = getattr(partner.sftp, role)
                if endpoint is None:
                    continue
                for name in ("private_key", "known_hosts", "passphrase_file", "password_file"):
                    path = getattr(endpoint, name)
                    if path is not None and not os.access(path, os.R_OK):
                        problem(f"{where}.sftp.{role}.{name}", f"{str(path)!r} cannot be read")
    return found


def run_check(args: argparse.Namespace) -> int:
    """Print every problem; 0 when there is none, 2 otherwise."""
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        found = [{"key": key, "problem": message.strip()} for key, _, message in
                 (p.partition(": ") for p in exc.problems)] or [{"key": "-",
                                                                 "problem": str(exc)}]
    else:
        found = problems(config)
    if args.json:
        print(json.dumps({"ok": not found, "problems": found}, indent=2))
    elif found:
        for entry in found:
            print(f"{entry['key']}: {entry['problem']}")
    else:
        print(f"{args.config}: ok")
    return EXIT_OK if not found else EXIT_USAGE
