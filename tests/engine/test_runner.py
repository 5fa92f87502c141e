"""The runner's side of the outcome: what an undo recorded reaches the job's
hooks, also when the undo stopped half-way; nothing when the names are wrong.
Run on a stand-in job record: no registry, no cursor."""

from odoo.addons.ipai_platform_rules import lifecycle
from odoo.addons.ipai_tenant_core.infra import pg
from odoo.addons.ipai_tenant_engine.provisioning.runner import JobRunner
from odoo.addons.ipai_tenant_engine.provisioning.spec import PoolMemberSpec

from .builders import job_spec, owned, tenant_spec


class StandInJob:
    """What JobRunner._undo asks of an ipai.tenant.job record."""

    def __init__(self, spec, server):
        self.spec, self.job_type, self.params = spec, spec.job_type, spec.params
        self.calls = []
        self.tenant_id = type("Tenant", (), {"_pg_server": lambda _self: server})()
        catalog = type("Templates", (), {"_engine_catalog": lambda _self: None})()
        self.env = {"ipai.tenant.template": catalog}

    def _engine_spec(self):
        return self.spec

    def _engine_apply(self, outcome):
        outcome.apply(self)  # as ipai.tenant.job._engine_apply does

    def __getattr__(self, name):
        if not name.startswith("_engine_"):
            raise AttributeError(name)
        return lambda *args: self.calls.append((name, *args))


def test_an_undo_applies_what_it_recorded(fake_pg, server):
    fake_pg.marks["odoo_acme"] = owned("tenant:acme")
    fake_pg.roles.update({"tenant_acme", "tenant_acme__odoo"})
    job = StandInJob(job_spec(), server)
    lines = JobRunner(None, 7)._undo(job)
    assert "removed the partial database odoo_acme" in lines
    assert "odoo_acme" not in fake_pg.marks
    assert job.calls == [("_engine_forget_secrets",)]


def test_a_failed_undo_still_applies_what_it_did(fake_pg, server, monkeypatch):
    def refuse(_server, _name):
        raise pg.psycopg2.OperationalError("server closed the connection")

    monkeypatch.setattr(pg, "drop_database", refuse)
    fake_pg.marks["odoo__pool_0123456789ab"] = owned("tenant:acme")
    tenant = tenant_spec(
        database="odoo__pool_0123456789ab",
        runtime_role="tenant__pool_0123456789ab__odoo",
        db_role="tenant__pool_0123456789ab",
    )
    member = PoolMemberSpec(
        5, tenant.database, tenant.runtime_role, tenant.db_role, "claimed", True
    )
    job = StandInJob(job_spec(params='{"pooled": true}', tenant=tenant, pool_member=member), server)
    lines = JobRunner(None, 7)._undo(job)
    assert lines[-1].startswith("cleanup incomplete, retry will finish it:")
    assert job.calls == [("_engine_forget_pool_member", 5)]


def test_wrong_names_undo_nothing(fake_pg, server):
    job = StandInJob(job_spec(tenant=tenant_spec(database="odoo_beta")), server)
    fake_pg.marks["odoo_beta"] = owned("tenant:beta")
    lines = JobRunner(None, 7)._undo(job)
    assert len(lines) == 1
    assert lines[0].startswith("nothing undone: The database of tenant acme")
    assert fake_pg.calls == []
    assert job.calls == []


def test_jobs_without_an_undo_are_left_as_they_are(fake_pg, server):
    for job_type in ("backup", "suspend", "change_plan", "drop"):
        job = StandInJob(job_spec(job_type, tenant=tenant_spec(state=lifecycle.ACTIVE)), server)
        assert JobRunner(None, 7)._undo(job) == []
        assert job.calls == []
