"""Validation against the maps: reports (data, never raised) and the 997/TA1 built from them.

The only importer of pyx12 (design.md).
"""

from gateway.validation.ack import acknowledge, build_997, build_ta1, ta1_code
from gateway.validation.engine import MapSet, default_map_dir
from gateway.validation.report import (
    Finding,
    GroupReport,
    InterchangeReport,
    TransactionReport,
    ValidationReport,
)
from gateway.validation.validate import (
    DEFAULT_ENGINE,
    ENGINES,
    default_maps,
    prepare,
    validate,
    validate_document,
)

__all__ = [
    "DEFAULT_ENGINE",
    "ENGINES",
    "Finding",
    "GroupReport",
    "InterchangeReport",
    "MapSet",
    "TransactionReport",
    "ValidationReport",
    "acknowledge",
    "build_997",
    "build_ta1",
    "default_map_dir",
    "default_maps",
    "prepare",
    "ta1_code",
    "validate",
    "validate_document",
]
