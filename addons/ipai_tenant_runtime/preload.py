"""Idle HTTP workers of the tenant runtime load the registries of ready
warm-pool databases ahead of their signup.

A signup keeps the name of the pool database it takes, so a registry loaded
here is the one its first request uses: the first login costs Odoo's
password check only, not also a registry load (about 0.3 s). A worker loads
them when idle (before it waits for the next request), one after another
while no request waits, never evicts a tenant's registry to make room, and
leaves alone for a while a database it could not open (dropped meanwhile).
"""

import logging
import select
import time

from odoo.modules.registry import Registry
from odoo.service import server as odoo_server

from . import patching, runtime_config
from .routing_map import ROUTES

_logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 60
_failed_at = {}


def warm_one():
    """Load one pool database's registry not loaded yet; True if it did."""
    if runtime_config.mode() != runtime_config.TENANT:
        return False
    registries = Registry.registries
    for dbname in ROUTES.pool_databases():
        if dbname in registries:
            continue
        if time.monotonic() - _failed_at.get(dbname, -RETRY_AFTER_SECONDS) < RETRY_AFTER_SECONDS:
            continue
        if len(registries) >= registries.count:
            return False  # full: a tenant's registry matters more
        started = time.monotonic()
        try:
            Registry(dbname)
        except Exception as exc:  # claimed, dropped or not ready: later
            _failed_at[dbname] = time.monotonic()
            _logger.info("preload: %s not loaded (%s)", dbname, exc)
            return False
        _logger.info("preload: %s loaded in %.2fs", dbname, time.monotonic() - started)
        return True
    return False


def _sleep_after_warming(sleep):
    def sleep_with_preload(self):
        # One registry after another while no request waits for this worker.
        try:
            while warm_one() and not _request_waiting(self):
                pass
        except Exception:  # never let a preload stop a worker
            _logger.warning("preload failed", exc_info=True)
        return sleep(self)

    return sleep_with_preload


def _request_waiting(worker):
    readable, _w, _x = select.select([worker.multi.socket], [], [], 0)
    return bool(readable)


def install():
    # HTTP workers only (WorkerHTTP inherits ``sleep`` from Worker): the cron
    # worker has its own sleep and no registry to warm.
    patching.patch(odoo_server.WorkerHTTP, "sleep", _sleep_after_warming)
