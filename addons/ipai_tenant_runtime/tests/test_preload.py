"""Idle HTTP workers warm the registries of ready pool databases."""

from unittest import mock

import pytest
from odoo.addons.ipai_tenant_runtime import preload, routing_map
from odoo.addons.ipai_tenant_runtime.tests.common import route_row, runtime, tenant_runtime

POOL_ROWS = [
    route_row(None, "odoo_pool_1", state=routing_map.POOL),
    route_row(None, "odoo_pool_2", state=routing_map.POOL),
    route_row("acme.example.com", "odoo_acme"),
]


class _Registries(dict):
    count = 3


class _FakeRegistry:
    """Loads a registry by name into ``registries``; ``broken`` fail."""

    registries = _Registries()
    broken = set()

    def __init__(self, dbname):
        if dbname in self.broken:
            raise RuntimeError(f"{dbname} is gone")
        self.registries[dbname] = self


@pytest.fixture
def registry():
    _FakeRegistry.registries = _Registries()
    _FakeRegistry.broken = set()
    with (
        mock.patch.object(preload, "Registry", _FakeRegistry),
        mock.patch.dict(preload._failed_at, clear=True),
    ):
        yield _FakeRegistry


def test_pool_databases_are_loaded_one_at_a_time(registry):
    with tenant_runtime(*POOL_ROWS):
        assert preload.warm_one() is True
        assert list(registry.registries) == ["odoo_pool_1"]
        assert preload.warm_one() is True
        assert preload.warm_one() is False, "nothing left to warm"
        assert sorted(registry.registries) == ["odoo_pool_1", "odoo_pool_2"]


def test_a_full_registry_cache_is_left_to_tenants(registry):
    registry.registries.update({"odoo_acme": 1, "odoo_b": 2, "odoo_c": 3})
    with tenant_runtime(*POOL_ROWS):
        assert preload.warm_one() is False
    assert "odoo_pool_1" not in registry.registries


def test_a_database_that_cannot_be_opened_is_left_alone_for_a_while(registry):
    registry.broken.add("odoo_pool_1")
    with tenant_runtime(*POOL_ROWS):
        assert preload.warm_one() is False
        assert "odoo_pool_1" in preload._failed_at
        assert preload.warm_one() is True, "the next one is tried instead"
        assert list(registry.registries) == ["odoo_pool_2"]


def test_only_the_tenant_runtime_preloads(registry):
    for mode in (None, "platform"):
        with runtime(mode):
            assert preload.warm_one() is False
    assert registry.registries == {}


def test_an_idle_worker_warms_until_a_request_waits():
    slept = []
    sleep = preload._sleep_after_warming(slept.append)
    worker = object()
    with (
        mock.patch.object(preload, "warm_one", side_effect=[True, True, True]) as warm,
        mock.patch.object(preload, "_request_waiting", side_effect=[False, True]),
    ):
        sleep(worker)
    assert warm.call_count == 2
    assert slept == [worker]


def test_a_failing_preload_never_stops_the_worker():
    slept = []
    sleep = preload._sleep_after_warming(slept.append)
    with mock.patch.object(preload, "warm_one", side_effect=RuntimeError("boom")):
        sleep("worker")
    assert slept == ["worker"]
