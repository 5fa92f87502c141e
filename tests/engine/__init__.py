"""Unit tests of the provisioning engine: plain Python, no PostgreSQL, no
Odoo registry (`pytest tests/engine` runs them on their own)."""

import os

import odoo.addons

ADDONS = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", "..", "addons"))
if ADDONS not in {os.path.realpath(path) for path in odoo.addons.__path__}:
    # Run on their own: no Odoo configuration made the repository's addons
    # importable.
    odoo.addons.__path__.append(ADDONS)
