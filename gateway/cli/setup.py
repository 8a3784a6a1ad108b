"""What the commands that work on the store share: ``--config`` and opening the gateway."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from gateway.config import Config, load_config
from gateway.pipeline import Pipeline
from gateway.store import Store
from gateway.validation import ENGINES


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """``--config PATH`` (default ``$ACORN_CONFIG`` or ``acorn.toml``)."""
    parser.add_argument(
        "--config", type=Path, default=Path(os.environ.get("ACORN_CONFIG", "acorn.toml")),
        metavar="PATH", help="configuration file (default $ACORN_CONFIG or ./acorn.toml)",
    )  # fmt: skip


def add_engine_argument(parser: argparse.ArgumentParser) -> None:
    """``--engine fast|pyx12``: the validation engine, over ``gateway.validation_engine``."""
    parser.add_argument(
        "--engine", choices=ENGINES, default=None,
        help="validation engine: fast (the maps compiled into tables; default) or pyx12 "
        "(the reference engine, far slower); overrides gateway.validation_engine",
    )  # fmt: skip


def open_store(args: argparse.Namespace) -> tuple[Config, Store]:
    """The configuration (with ``--engine`` applied, where the command has it) and its
    store, migrated to the current schema."""
    config = load_config(args.config)
    engine = getattr(args, "engine", None)
    if engine is not None:
        gateway = config.gateway.model_copy(update={"validation_engine": engine})
        config = config.model_copy(update={"gateway": gateway})
    store = Store(config.gateway.database)
    store.upgrade()
    return config, store


def open_pipeline(args: argparse.Namespace) -> Pipeline:
    """A pipeline on the configured, migrated store, warmed for steady work
    (:meth:`Pipeline.warm`)."""
    config, store = open_store(args)
    pipeline = Pipeline(config=config, store=store)
    pipeline.warm()
    return pipeline
