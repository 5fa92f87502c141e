"""18.0.1.2.0: cells. The default cell exists (data, noupdate); every
tenant and warm-pool member is placed in it, and their roles re-keyed:
their passwords were derived from the master itself, they are now derived
from the default cell's secret (which the default cell's nodes hold)."""

import logging

from odoo import SUPERUSER_ID, api

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    tenants, members = env["ipai.tenant.cell"]._place_unplaced(rekey=True)
    _logger.info(
        "cells: %d tenants and %d pool members placed in the default cell", tenants, members
    )
