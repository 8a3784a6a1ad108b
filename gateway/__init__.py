"""acorn-gateway: an EDI gateway for suppliers who sell to Amazon on the Vendor (1P) model."""

__version__ = "0.1.0"
