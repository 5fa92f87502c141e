"""The tenant runtime sizes Odoo's registry cache by a registry's measured
memory, not Odoo's 15 MB guess."""

import contextlib
from unittest import mock

from odoo.addons.ipai_tenant_runtime import registry_cache
from odoo.addons.ipai_tenant_runtime.tests.common import runtime
from odoo.modules.registry import Registry
from odoo.tools import config

GB = 1024 * 1024 * 1024


@contextlib.contextmanager
def _runtime(mode, **options):
    """``mode``'s options; the process's own registry cache stays as it is
    (a stand-in of 136, Odoo's size at 2 GB, takes any change)."""
    values = {"limit_memory_soft": 2 * GB, "registry_lru_size": None, **options}
    made = mock.Mock(count=136)
    with (
        runtime(mode, **values),
        mock.patch.object(Registry, "registries", made, create=True),
    ):
        registry_cache.install()
        yield config.get("registry_lru_size"), made


def test_the_tenant_runtime_keeps_as_many_registries_as_its_memory_holds():
    # (2048 MB - 512 MB) / 4 MB, where Odoo's own rule gives 136.
    with _runtime("tenant") as (size, made):
        assert size == 384
        assert made.count == 136, "the process's own cache is left alone"
    with _runtime("tenant", ipai_registry_mb="8") as (size, _made):
        assert size == 192


def test_an_explicit_size_and_the_other_runtimes_keep_theirs():
    with _runtime("tenant", registry_lru_size=50) as (size, made):
        assert (size, made.count) == (50, 136)
    for mode in ("platform", None):
        with _runtime(mode) as (size, made):
            assert (size, made.count) == (None, 136)


def test_a_tiny_memory_limit_still_leaves_a_usable_cache():
    with _runtime("tenant", limit_memory_soft=256 * 1024 * 1024) as (size, _made):
        assert size == registry_cache.MIN_REGISTRIES
