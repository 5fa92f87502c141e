"""The engine's constants in the rules package (ipai_platform_rules.tenant_side)."""

import subprocess
import sys
from pathlib import Path

from odoo.addons.ipai_platform_rules import tenant_side

REPO = Path(__file__).resolve().parents[2]


def test_tenant_side_imports_nothing_of_odoo():
    probe = (
        "import sys; sys.path.insert(0, 'addons'); import ipai_platform_rules.tenant_side;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('odoo', 'psycopg2')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_every_module_set_holds_the_tenant_side():
    assert tenant_side.with_tenant_side(["sale", "base", "sale"]) == [
        "base",
        "ipai_bi_superset_embed",
        "ipai_tenant_client",
        "sale",
    ]
    assert tenant_side.with_tenant_side([]) == sorted(tenant_side.TENANT_SIDE_MODULES)
    assert tenant_side.WELCOME_LINK_HOURS == 72
