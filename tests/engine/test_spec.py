"""The frozen spec and the outcome a step returns."""

import dataclasses

import pytest
from odoo.addons.ipai_platform_rules import lifecycle
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError
from odoo.addons.ipai_tenant_data_safety.provisioning import backup_steps
from odoo.addons.ipai_tenant_data_safety.provisioning import spec as safety_spec
from odoo.addons.ipai_tenant_engine.provisioning import operations
from odoo.addons.ipai_tenant_engine.provisioning.operations import StepContext
from odoo.addons.ipai_tenant_engine.provisioning.spec import Effect, Outcome, PoolMemberSpec

from .builders import job_spec, tenant_spec


def test_a_spec_cannot_be_changed_by_a_step():
    spec = job_spec()
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.tenant.database = "odoo_other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.job_type = "drop"
    config = spec.tenant.tenant_side_config
    config["plan"] = "enterprise"
    config["limits"]["users"] = 999
    assert spec.tenant.tenant_side_config == {
        "code": "acme",
        "plan": "starter",
        "limits": {"users": 5},
    }
    params = job_spec(params='{"modules": ["sale"]}').params
    params["modules"].append("stock")
    assert job_spec(params='{"modules": ["sale"]}').params == {"modules": ["sale"]}


def test_derived_values():
    tenant = tenant_spec()
    assert tenant.mark == "tenant:acme"
    assert tenant.admin_login == "boss@acme.test"
    assert tenant_spec(admin_email=None).admin_login == "admin"
    assert tenant.company.as_dict() == {
        "name": "Acme",
        "email": "boss@acme.test",
        "country_code": "BE",
    }


def test_secrets_stay_out_of_reprs():
    member = PoolMemberSpec(1, "odoo_pool_x", "r", "b", "claimed", True, "tok-admin", "tok-bi")
    spec = job_spec(bi_token="tok-bi-role", pool_member=member)
    outcome = Outcome()
    outcome.record("store_secret", "admin_password", "s3cret-pw", True)
    for text in (repr(spec), repr(outcome)):
        assert "tok-" not in text
        assert "s3cret-pw" not in text
    assert "store_secret" in repr(outcome)


def test_a_missing_source_is_the_reason_given():
    spec = job_spec(
        "clone", missing_source="Source tenant ghost does not exist; nothing was changed."
    )
    with pytest.raises(PermanentError, match="Source tenant ghost does not exist"):
        spec.source_tenant()
    with pytest.raises(PermanentError, match="no backup to restore"):
        safety_spec.source_backup(StepContext(job_spec("restore"), server=None))
    source = tenant_spec("beta")
    assert job_spec("clone", clone_source=source).source_tenant() is source


def test_an_effect_names_a_known_hook():
    with pytest.raises(ValueError, match="unknown engine hook"):
        Effect("write_anything", ("state", "active"))


class RecordingJob:
    """Stands for ipai.tenant.job: each engine hook records its call."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        if not name.startswith("_engine_"):
            raise AttributeError(name)
        return lambda *args: self.calls.append((name, *args))


def test_an_outcome_is_applied_in_the_order_recorded():
    outcome = Outcome()
    outcome.record("set_resume_state", lifecycle.SUSPENDED)
    outcome.record("set_state", lifecycle.MAINTENANCE)
    outcome.record("store_secret", "admin_password", "pw", True)
    outcome.record("queue_welcome_mail", "http://acme/reset")
    outcome.log("a line")
    job = RecordingJob()
    outcome.apply(job)
    assert job.calls == [
        ("_engine_set_resume_state", lifecycle.SUSPENDED),
        ("_engine_set_state", lifecycle.MAINTENANCE),
        ("_engine_store_secret", "admin_password", "pw", True),
        ("_engine_queue_welcome_mail", "http://acme/reset"),
    ]
    assert outcome.lines == ["a line"]


def test_the_job_model_has_every_hook_an_outcome_may_call():
    """Checked on the source: the model cannot be loaded without a registry."""
    from pathlib import Path

    from odoo.addons.ipai_tenant_engine.provisioning.spec import known_hooks

    addons = Path(operations.__file__).parent.parent.parent
    text = "".join(
        (addons / addon / "models" / "ipai_tenant_job.py").read_text()
        for addon in ("ipai_tenant_engine", "ipai_tenant_data_safety")
    )
    assert [hook for hook in sorted(known_hooks()) if f"def _engine_{hook}(" not in text] == []


def test_maintenance_records_where_to_return_before_leaving(context):
    ctx = context(job_spec("upgrade", tenant=tenant_spec(state=lifecycle.SUSPENDED)))
    backup_steps.enter_maintenance(ctx)
    assert [(e.hook, e.args) for e in ctx.outcome.effects] == [
        ("set_resume_state", (lifecycle.SUSPENDED,)),
        ("set_state", (lifecycle.MAINTENANCE,)),
    ]
    ctx = context(job_spec("upgrade", tenant=tenant_spec(state=lifecycle.MAINTENANCE)))
    backup_steps.enter_maintenance(ctx)
    assert ctx.outcome.effects == []
    ctx = context(job_spec("upgrade", resume_state=lifecycle.SUSPENDED))
    backup_steps.leave_maintenance(ctx)
    assert [(e.hook, e.args) for e in ctx.outcome.effects] == [
        ("set_state", (lifecycle.SUSPENDED,))
    ]
    ctx = context(job_spec("upgrade"))
    backup_steps.leave_maintenance(ctx)
    assert ctx.outcome.effects[0].args == (lifecycle.ACTIVE,)
