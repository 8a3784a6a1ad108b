"""Rehearsing Amazon's onboarding against your own gateway (``acorn sandbox``): the simulated
Amazon sends the scenarios' purchase orders to the partner of your configuration and answers
whatever your gateway sends, printing its verdict on each document, until stopped.

Your configuration's partner must point at the simulated Amazon: for AS2, ``url =
"http://127.0.0.1:<port>/as2"`` (``--port``, default 4080) and
``certificates = ["sandbox_fixtures/sandbox/keys/amazon.cert.pem"]``, with ``as2_id =
"AMAZON"``; for a folder partner, its two folders are used as Amazon's SFTP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from gateway.config import Config
from gateway.errors import ConfigError
from gateway.sandbox.amazon import Seen, SimulatedAmazon, Vendor, now_utc
from gateway.sandbox.scenarios import SCENARIOS, load_scenarios


def vendor_of(config: Config, partner_name: str) -> Vendor:
    """The vendor as the simulated Amazon sees it, from the vendor's own configuration."""
    partner = config.partner(partner_name)
    x12 = (partner.our_id.qualifier, partner.our_id.id)
    if partner.transport == "folder" and partner.folder is not None:
        return Vendor("", x12, to_vendor=partner.folder.incoming,
                      from_vendor=partner.folder.outgoing)  # fmt: skip
    if partner.transport == "as2" and config.as2 is not None:
        host = config.gateway.http_host
        host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        return Vendor(config.as2.as2_id, x12, f"http://{host}:{config.gateway.http_port}/as2",
                      config.as2.key.certificate)  # fmt: skip
    raise ConfigError(f"partners.{partner_name}: the sandbox speaks AS2 or a folder pair, "
                      f"not {partner.transport}")  # fmt: skip


def describe(seen: Seen) -> str:
    """One line per document Amazon received."""
    if seen.verdict is None:
        return f"{'/'.join(seen.sets)}: received"
    if seen.accepted:
        return f"{'/'.join(seen.sets)}: accepted (997 ISA13 {seen.ack_isa13})"
    problems = "; ".join(f"{s} {c}: {p.message}" for s, c, p in seen.verdict.problems)
    return f"{'/'.join(seen.sets)}: REJECTED (997 ISA13 {seen.ack_isa13}) {problems}"


def rehearse(config: Config, *, partner: str, root: Path, port: int, minutes: float,
             scenarios: Path = SCENARIOS, out: TextIO,
             stop: Callable[[], bool] = lambda: False) -> list[Seen]:  # fmt: skip
    """Run the rehearsal (see the module docstring); returns what Amazon saw."""
    amazon = SimulatedAmazon(root, vendor_of(config, partner), port=port)
    orders = [s.purchase_order for s in load_scenarios(scenarios, today=now_utc().date(),
                                                       run=str(int(time.time()) % 100000))]
    with amazon:
        print(f"simulated Amazon: AS2 AMAZON at {amazon.url}; sending {len(orders)} POs",
              file=out, flush=True)  # fmt: skip
        amazon.send_purchase_orders(orders)
        deadline = time.monotonic() + minutes * 60
        while time.monotonic() < deadline and not stop():
            for seen in amazon.answer():
                print(describe(seen), file=out, flush=True)
            time.sleep(1)
    return amazon.seen
