"""A warmed pipeline (what ``acorn run``, ``serve`` and ``process`` do at start-up) has every
map compiled for its engine before the first interchange, and the start-up heap out of the
garbage collector's way."""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator

import pytest

from bench.corpus import interchange, purchase_order_set
from gateway.config import load_config
from gateway.pipeline.context import GC_THRESHOLDS, Pipeline
from gateway.store import Store
from gateway.validation import default_maps, validate
from gateway.validation.compiled import compile_map
from tests.pipeline.pipeline_sim import GatewayHome


@pytest.fixture
def collector() -> Iterator[None]:
    """Give the test process its collector settings back afterwards."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.parametrize("engine", ["fast", "pyx12"])
def test_warm_compiles_every_map_for_the_fast_engine_and_settles_the_heap(
    gateway_home: GatewayHome, collector: None, engine: str
) -> None:
    config = load_config(gateway_home.config)
    gateway = config.gateway.model_copy(update={"validation_engine": engine})
    config = config.model_copy(update={"gateway": gateway})
    store = Store(config.gateway.database)
    store.upgrade()
    try:
        compile_map.cache_clear()
        gc.unfreeze()
        Pipeline(config, store).warm()
        compiled = compile_map.cache_info().currsize
        maps = default_maps()
        if engine == "fast":
            # 7 maps named in maps.xml and the two envelope control maps.
            assert compiled == len(maps.map_files()) == 9
            data = interchange([purchase_order_set(random.Random(3), 1, 3)], isa13=7, gs06=7)
            misses = compile_map.cache_info().misses
            report = validate(data, engine="fast")
            assert report.accepted and not report.all_findings()
            assert compile_map.cache_info().misses == misses  # nothing left to compile
        else:
            assert compiled == 0  # the reference engine has no tables
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 10_000  # the loaded maps, models and schema
    finally:
        store.dispose()
