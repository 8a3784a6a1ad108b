"""The golden files of the mapping layer and the fixed envelope they are rendered with.

Layout: ``sandbox_fixtures/golden/<set>/<name>.edi`` beside ``<name>.json``. For the 850 the
``.edi`` is the input and the ``.json`` the expected ERP document; for 855/856/810/846 the
``.json`` is the ERP export and the ``.edi`` the expected interchange. A name ending in
``_5010`` is rendered at release 005010.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.erp import Source, parse_document
from gateway.mapping import render
from gateway.x12 import Party, Transaction, serialize
from tests.conftest import FIXTURES

GOLDEN = FIXTURES / "golden"
VENDOR = Party("ZZ", "ACMEVENDOR")
AMAZON = Party("ZZ", "AMAZON")
#: The envelope every outbound golden file is rendered with.
WHEN = datetime(2025, 3, 10, 12, 0)


def golden_names(set_id: str) -> list[str]:
    """The golden documents of one set, by name (sorted)."""
    return sorted(p.stem for p in (GOLDEN / set_id).glob("*.json"))


def release_of(name: str) -> str:
    """``005010`` for a name ending in ``_5010``, else ``004010``."""
    return "005010" if name.endswith("_5010") else "004010"


def load_document(set_id: str, name: str) -> Any:
    """The golden ERP document ``name`` of ``set_id``."""
    return parse_document((GOLDEN / set_id / f"{name}.json").read_bytes())


def render_golden(document: Any, release: str = "004010") -> bytes:
    """``document`` rendered with the fixed golden envelope (vendor to Amazon, ISA13 1,
    GS06 1, ST02 0001, 2025-03-10 12:00), one segment per line."""
    interchange = render(
        document, sender=VENDOR, receiver=AMAZON, interchange_control_number=1,
        group_control_number=1, when=WHEN, release=release,
    )  # fmt: skip
    return serialize(interchange).replace(b"~", b"~\n")


def golden_source(transaction: Transaction, isa13: str, gs06: str) -> Source:
    """The ``source`` block the golden 850 JSON files carry (partner ``amazon``)."""
    return Source(
        partner="amazon", sender="ZZ:AMAZON", interchange_control_number=isa13,
        group_control_number=gs06, transaction_control_number=transaction.control_number,
    )  # fmt: skip


__all__ = [
    "AMAZON", "GOLDEN", "VENDOR", "WHEN", "Path", "golden_names", "golden_source",
    "load_document", "release_of", "render_golden",
]  # fmt: skip
