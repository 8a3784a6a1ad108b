"""Pure mappings between X12 transaction sets and ERP documents, one module per set.

Each ``tsNNN`` module has ``to_erp(transaction, source=None)`` and
``from_erp(document, release="004010")`` (the segments between ST and SE); ``render`` and
``translate`` pick the module and build the envelope.
"""

from gateway.mapping.render import (
    RELEASES,
    SET_OF_DOCUMENT,
    mapping_module,
    render,
    translate,
)

__all__ = ["RELEASES", "SET_OF_DOCUMENT", "mapping_module", "render", "translate"]
