"""Specs built by hand, as ipai.tenant.job._engine_spec builds them."""

import json

from odoo.addons.ipai_platform_rules import lifecycle, naming
from odoo.addons.ipai_tenant_data_safety.provisioning.kinds import with_data_safety
from odoo.addons.ipai_tenant_data_safety.provisioning.spec import SafetySpec
from odoo.addons.ipai_tenant_engine.provisioning import operations
from odoo.addons.ipai_tenant_engine.provisioning.spec import CompanyValues, JobSpec, TenantSpec

# The kinds of a platform with every addon installed.
KINDS = with_data_safety(operations.KINDS)
_SAFETY_FIELDS = ("backup", "resume_state", "rollback_error", "restore_backup")


def owned(mark):
    """What the fake pg.owner_mark makes of a mark (the real one seals it)."""
    return f"owned:{mark}"


def tenant_spec(code="acme", **values):
    """A tenant whose names are the ones its code gives."""
    base = {
        "code": code,
        "name": code.capitalize(),
        "state": lifecycle.PROVISIONING,
        "database": naming.database_name(code),
        "db_role": naming.role_name(code),
        "runtime_role": naming.runtime_role_name(code),
        "analytics_schema": naming.schema_name(code),
        "database_prefix": naming.DATABASE_PREFIX,
        "role_prefix": naming.ROLE_PREFIX,
        "url": f"http://{code}.example.test",
        "primary_domain": f"{code}.example.test",
        "admin_email": f"boss@{code}.test",
        "admin_name": "The Boss",
        "company": CompanyValues(code.capitalize(), f"boss@{code}.test", "BE"),
        "plan_code": "starter",
        "plan_has_bi": False,
        "modules": ("base", "ipai_bi_superset_embed", "ipai_tenant_client", "sale"),
        "allowed_modules": ("base", "ipai_bi_superset_embed", "ipai_tenant_client", "sale"),
        "config_json": json.dumps({"code": code, "plan": "starter", "limits": {"users": 5}}),
    }
    base.update(values)
    return TenantSpec(**base)


def job_spec(job_type="create", tenant=None, params="{}", **values):
    """A job's spec; data safety's values (backup, resume_state...) go to
    its ``extra`` as the job model puts them."""
    safety = {name: values.pop(name) for name in _SAFETY_FIELDS if name in values}
    return JobSpec(
        id=values.pop("id", 7),
        job_type=job_type,
        kind=KINDS[job_type],
        tenant=tenant or tenant_spec(),
        params_json=params,
        stamp="20260101-120000",
        extra=SafetySpec(backup_root="/backups", runtime_url="http://runtime.test", **safety),
        **values,
    )
