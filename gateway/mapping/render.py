"""Between whole interchanges and ERP documents: pick the set mapping, build the envelope.

``translate`` turns one transaction set into its ERP document; ``render`` turns an ERP
document into a complete interchange (ISA/GS/ST with the caller's control numbers). The
856 is rendered at 004010 or 005010 (the partner's configured release); every other set
at 004010, as Amazon trades them (amazon-x12.md section 2).
"""

from __future__ import annotations

import importlib
from datetime import datetime
from types import ModuleType
from typing import Any

from gateway.erp import SET_OF_DOCUMENT, Source
from gateway.errors import MappingError
from gateway.x12 import (
    FUNCTIONAL_GROUP_OF_SET,
    Interchange,
    Party,
    Transaction,
    build_group,
    build_interchange,
    build_transaction,
)

#: Releases (GS08) the gateway writes, and the ISA12 that goes with each.
RELEASES: dict[str, str] = {"004010": "00401", "005010": "00501"}
#: Sets Amazon trades at 005010 as well as 004010.
SETS_AT_5010 = frozenset({"856", "997"})


_MODULES: dict[str, ModuleType] = {}


def mapping_module(set_id: str) -> ModuleType:
    """The mapping module of a transaction set (``gateway.mapping.ts850``...)."""
    module = _MODULES.get(set_id)
    if module is None:
        if set_id not in SET_OF_DOCUMENT.values():
            raise MappingError(f"transaction set {set_id} has no ERP document")
        # Imported once: import_module costs as much as mapping a small set.
        module = _MODULES[set_id] = importlib.import_module(f"gateway.mapping.ts{set_id}")
    return module


def translate(transaction: Transaction, source: Source | None = None) -> Any:
    """The ERP document of one (validated) transaction set."""
    return mapping_module(transaction.set_id).to_erp(transaction, source=source)


def render(
    document: Any,
    *,
    sender: Party,
    receiver: Party,
    interchange_control_number: int,
    group_control_number: int,
    when: datetime,
    transaction_control_number: int = 1,
    release: str = "004010",
    usage: str = "P",
) -> Interchange:
    """A complete interchange carrying ``document``; GS02/GS03 are the ISA ids.

    Control numbers are the caller's (the store allocates them). Raises MappingError for a
    release the set is not traded at.
    """
    set_id = SET_OF_DOCUMENT[document.type]
    if release not in RELEASES:
        raise MappingError(f"release {release!r} is not one of {', '.join(RELEASES)}")
    if release != "004010" and set_id not in SETS_AT_5010:
        raise MappingError(f"the {set_id} is traded at 004010 only, not {release}")
    body = mapping_module(set_id).from_erp(document, release=release)
    transaction = build_transaction(set_id, transaction_control_number, body)
    group = build_group(
        functional_id=FUNCTIONAL_GROUP_OF_SET[set_id],
        application_sender=sender.id,
        application_receiver=receiver.id,
        control_number=group_control_number,
        version=release,
        transactions=[transaction],
        when=when,
    )
    return build_interchange(
        sender=sender,
        receiver=receiver,
        control_number=interchange_control_number,
        groups=[group],
        when=when,
        version=RELEASES[release],
        usage=usage,
    )
