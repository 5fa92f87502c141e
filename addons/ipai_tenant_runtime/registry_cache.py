"""How many tenant registries a worker of the tenant runtime keeps.

Odoo sizes its registry LRU as ``limit_memory_soft`` / 15 MB ("10 MB a
registry, 5 MB of working memory"): 136 registries at the runtime's 2 GB. A
tenant's registry measured 3.4 MB (docs/benchmarks.md), so past 136 active
tenants a worker reloaded a registry (~0.2 s) on almost every request while
it still had memory for hundreds. The tenant runtime sizes the cache from
the measured figure instead: what ``limit_memory_soft`` leaves beside a
worker's own memory, divided by a registry's. An explicit
``registry_lru_size`` in the configuration wins; the platform and plain Odoo
keep Odoo's sizing.
"""

from odoo.tools import config

from . import runtime_config

MB = 1024 * 1024
# Measured 3.4 MB a registry, rounded up for the caches it fills in use.
DEFAULT_REGISTRY_MB = 4
# A worker's memory beside the registries: code, a request's records.
WORKER_BASE_MB = 512
# Below this the cache would thrash whatever the memory: Odoo's own floor
# is far above it anyway.
MIN_REGISTRIES = 16


def size():
    """Registries per worker that fit under ``limit_memory_soft``."""
    per_registry = float(config.get("ipai_registry_mb") or DEFAULT_REGISTRY_MB)
    available = int(config["limit_memory_soft"]) / MB - WORKER_BASE_MB
    return max(int(available / per_registry), MIN_REGISTRIES)


def install():
    if runtime_config.mode() != runtime_config.TENANT or config.get("registry_lru_size"):
        return
    # Read by Odoo when it makes the cache, at the first registry: server-wide
    # modules are loaded (this runs) before any registry.
    config["registry_lru_size"] = size()
