"""The platform's rules (addons/ipai_platform_rules) as plain Python: no
database, no Odoo. What the control plane, the tenant runtime, the BI addon
and Superset's configuration all read must hold here first."""

import subprocess
import sys

import pytest
from odoo.addons.ipai_platform_rules import analytics, jobs, lifecycle, naming, roles

from ..support import REPO_ROOT


def test_the_rules_import_nothing_of_odoo():
    """Superset's configuration imports them in a venv without Odoo."""
    probe = (
        "import sys; sys.path.insert(0, 'addons');"
        "import ipai_platform_rules.analytics, ipai_platform_rules.jobs,"
        " ipai_platform_rules.lifecycle, ipai_platform_rules.mail, ipai_platform_rules.naming,"
        " ipai_platform_rules.roles;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('odoo', 'psycopg2')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "code", ["A", "a", "1acme", "acme_corp", "acme;drop", "acme'", "acme-", "ac--me", "x" * 31]
)
def test_bad_codes_are_refused_everywhere(code):
    assert naming.code_problem(code)
    with pytest.raises(analytics.NotATenantCode):
        analytics.rls_clause(code)


def test_names_derive_from_the_code():
    assert naming.database_name("acme-corp") == "odoo_acme-corp"
    assert naming.runtime_role_name("acme-corp") == "tenant_acme_corp__odoo"
    assert naming.schema_name("acme-corp") == "tenant_acme_corp"
    assert naming.code_problem("acme-corp") is None
    assert naming.code_problem("postgres") == "Tenant code 'postgres' is reserved."


def test_the_bi_contract():
    assert analytics.rls_clause("acme") == "tenant_code = 'acme'"
    assert analytics.service_username("acme") == "ipai_svc_acme"
    assert analytics.dashboard_slug("acme").startswith(analytics.dashboard_slug_prefix("acme"))
    assert analytics.code_of_service_account("ipai_svc_acme") == "acme"
    assert analytics.code_of_service_account("ipai_svc_Bad") == ""
    assert analytics.code_of_service_account("admin") is None


def test_every_state_has_its_transitions_and_archived_is_final():
    states = {state for state, _label in lifecycle.STATES}
    assert set(lifecycle.TRANSITIONS) == states
    assert all(targets <= states for targets in lifecycle.TRANSITIONS.values())
    assert lifecycle.TRANSITIONS[lifecycle.ARCHIVED] == set()
    assert lifecycle.transition_problem(lifecycle.ARCHIVED, lifecycle.ACTIVE)
    assert lifecycle.transition_problem(lifecycle.ACTIVE, lifecycle.SUSPENDED) is None
    assert all(sources <= states for sources in lifecycle.ACTION_SOURCES.values())


def test_a_stronger_role_has_every_power_of_a_weaker_one():
    ranked = sorted(roles.ROLE_RANK, key=roles.ROLE_RANK.get)
    for power in roles.POWER_ROLE:
        holders = [roles.role_has(role, power) for role in ranked]
        assert holders == sorted(holders), power
    assert not roles.role_has(False, roles.READ)


def test_open_jobs_are_queued_or_running():
    assert set(jobs.OPEN_STATES) == {jobs.QUEUED, jobs.RUNNING}
    assert set(jobs.OPEN_STATES) < {state for state, _label in jobs.STATES}


def test_a_domains_mail_records_name_the_relay_and_key_once_known():
    from odoo.addons.ipai_platform_rules import mail

    assert mail.records("shop.example") == [
        '_dmarc.shop.example TXT "v=DMARC1; p=quarantine; adkim=r; aspf=r"'
    ]
    spf, dkim, dmarc = mail.records(
        "shop.example", spf="include:_spf.relay.example", dkim_key="MIIBIjAN"
    )
    assert spf == 'shop.example TXT "v=spf1 include:_spf.relay.example -all"'
    assert dkim == 'ipai._domainkey.shop.example TXT "v=DKIM1; k=rsa; p=MIIBIjAN"'
    assert dmarc.startswith("_dmarc.shop.example TXT")
    assert mail.records("") == []
