"""What the commands that work on the store share: ``--config`` and opening the gateway."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from gateway.config import Config, load_config
from gateway.pipeline import Pipeline
from gateway.store import Store


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """``--config PATH`` (default ``$ACORN_CONFIG`` or ``acorn.toml``)."""
    parser.add_argument(
        "--config", type=Path, default=Path(os.environ.get("ACORN_CONFIG", "acorn.toml")),
        metavar="PATH", help="configuration file (default $ACORN_CONFIG or ./acorn.toml)",
    )  # fmt: skip


def open_store(args: argparse.Namespace) -> tuple[Config, Store]:
    """The configuration and its store, migrated to the current schema."""
    config = load_config(args.config)
    store = Store(config.gateway.database)
    store.upgrade()
    return config, store


def open_pipeline(args: argparse.Namespace) -> Pipeline:
    """A pipeline on the configured, migrated store."""
    config, store = open_store(args)
    return Pipeline(config=config, store=store)
