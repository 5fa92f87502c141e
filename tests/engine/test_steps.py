"""Each step's decisions, on fake PostgreSQL, filestore and tenant-database
functions (conftest.fake_pg): what it touches, and the outcome it records."""

import pytest
from odoo.addons.ipai_platform_rules import lifecycle
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError, WaitingError
from odoo.addons.ipai_tenant_data_safety.provisioning import backup_steps
from odoo.addons.ipai_tenant_data_safety.provisioning.spec import BackupSpec
from odoo.addons.ipai_tenant_engine.provisioning import (
    operations,
    pool,
    superset_workspace,
    templates,
)
from odoo.addons.ipai_tenant_engine.provisioning.spec import (
    PoolMemberSpec,
    TemplateCatalog,
    TemplateSpec,
)

from .builders import job_spec, owned, tenant_spec

TEMPLATE = TemplateSpec(11, "ipai_tpl_abc", "ready", ("base", "sale"))


def effects(ctx):
    return [(effect.hook, *effect.args) for effect in ctx.outcome.effects]


# ----------------------------------------------------------- check_request


def test_check_request_on_a_free_name(context, fake_pg):
    ctx = context(job_spec())
    operations.check_request(ctx)
    assert ctx.lines == ["database name odoo_acme is free"]
    assert effects(ctx) == []


def test_check_request_refuses_a_foreign_database(context, fake_pg):
    fake_pg.marks["odoo_acme"] = owned("tenant:other")
    with pytest.raises(PermanentError, match="already exists and is not this tenant's"):
        operations.check_request(context(job_spec()))


def test_a_clone_with_data_keeps_what_its_source_installed(context, fake_pg):
    source = tenant_spec(
        "beta",
        state=lifecycle.ACTIVE,
        allowed_modules=("base", "ipai_tenant_client", "mrp", "sale"),
    )
    fake_pg.marks["odoo_beta"] = owned("tenant:beta")
    ctx = context(job_spec("clone", params='{"with_data": true}', clone_source=source))
    operations.check_request(ctx)
    assert effects(ctx) == [("keep_modules", ["mrp"])]


def test_a_clone_needs_a_live_source_its_requester_may_see(context, fake_pg):
    missing = job_spec(
        "clone", missing_source="Source tenant beta does not exist; nothing was changed."
    )
    with pytest.raises(PermanentError, match="Source tenant beta does not exist"):
        operations.check_request(context(missing))
    fake_pg.marks["odoo_beta"] = owned("tenant:beta")
    draft = job_spec("clone", clone_source=tenant_spec("beta", state=lifecycle.DRAFT))
    with pytest.raises(PermanentError, match="has no database to copy"):
        operations.check_request(context(draft))


# -------------------------------------------------------------- database


def test_create_database_copies_the_template_once(context, fake_pg):
    ctx = context(job_spec(template=TEMPLATE))
    operations.create_database(ctx)
    assert fake_pg.calls == [
        ("create_database_from", "odoo_acme", "ipai_tpl_abc"),
        ("mark_database", "odoo_acme", "tenant:acme"),
    ]
    fake_pg.calls.clear()
    rerun = context(job_spec(template=TEMPLATE))
    operations.create_database(rerun)
    assert fake_pg.names() == ["mark_database"]
    assert rerun.lines == ["database odoo_acme already exists"]


def test_create_database_without_a_template_or_over_a_foreign_one(context, fake_pg):
    with pytest.raises(PermanentError, match="No template was prepared"):
        operations.create_database(context(job_spec()))
    fake_pg.marks["odoo_acme"] = owned("pool:odoo_acme")
    with pytest.raises(PermanentError, match="now belongs to something else"):
        operations.create_database(context(job_spec(template=TEMPLATE)))
    assert fake_pg.calls == []


def test_a_clone_with_data_copies_its_source(context, fake_pg):
    source = tenant_spec("beta", state=lifecycle.ACTIVE)
    fake_pg.marks["odoo_beta"] = owned("tenant:beta")
    ctx = context(job_spec("clone", params='{"with_data": true}', clone_source=source))
    operations.create_database(ctx)
    assert ("create_database_from", "odoo_acme", "odoo_beta") in fake_pg.calls
    operations.create_roles(ctx)
    assert ("hand_over", "odoo_acme", "tenant_beta__odoo", "tenant_acme__odoo") in fake_pg.calls
    assert operations._company_values(ctx) is None


def test_create_roles_stores_the_bi_password(context, fake_pg):
    ctx = context(job_spec(template=TEMPLATE))
    operations.create_roles(ctx)
    assert ("hand_over", "odoo_acme", "tenant__templates", "tenant_acme__odoo") in fake_pg.calls
    assert ("ensure_login_role", "tenant_acme") in fake_pg.calls
    assert effects(ctx) == [("store_secret", "db_role_password", "new-password", False)]


def test_set_admin_stores_a_one_time_password(context, fake_pg):
    ctx = context(job_spec(template=TEMPLATE))
    operations.set_admin(ctx)
    assert fake_pg.calls == [
        ("tenant_db.set_admin", "odoo_acme", "boss@acme.test", "hash"),
    ]
    assert effects(ctx) == [("store_secret", "admin_password", "admin-password", True)]


# ------------------------------------------------------------- templates


class Catalog:
    def __init__(self, template, busy=False):
        self.template, self.busy, self.locked = template, busy, []

    def lock(self, template_id):
        if self.busy:
            raise WaitingError("another job builds it", retry_in=3)
        self.locked.append(template_id)

    def as_catalog(self):
        return TemplateCatalog(for_modules=lambda _modules: self.template, lock_for_build=self.lock)


def test_a_ready_template_is_used_without_its_lock(context, fake_pg):
    fake_pg.marks[TEMPLATE.database] = owned(templates.ready_mark(TEMPLATE.database))
    catalog = Catalog(TEMPLATE)
    ctx = context(job_spec(), catalog.as_catalog())
    operations.ensure_template(ctx)
    assert catalog.locked == []
    assert effects(ctx) == [("use_template", 11)]


def test_a_missing_template_is_built_under_its_lock(context, fake_pg):
    building = TemplateSpec(11, "ipai_tpl_abc", "building", ("base", "sale"))
    catalog = Catalog(building)
    ctx = context(job_spec(), catalog.as_catalog())
    operations.ensure_template(ctx)
    assert catalog.locked == [11]
    build = next(call for call in fake_pg.calls if call[0] == "templates.build")
    assert build[:4] == ("templates.build", "ipai_tpl_abc", ["base", "sale"], "tenant__templates")
    assert effects(ctx) == [("template_ready", 11, 4096), ("use_template", 11)]


def test_a_half_built_template_is_dropped_and_built_again(context, fake_pg):
    fake_pg.marks["ipai_tpl_abc"] = owned(templates.building_mark("ipai_tpl_abc"))
    building = TemplateSpec(11, "ipai_tpl_abc", "building", ("base", "sale"))
    ctx = context(job_spec(), Catalog(building).as_catalog())
    operations.ensure_template(ctx)
    assert fake_pg.names()[:2] == ["drop_database", "filestore.remove"]
    assert "templates.build" in fake_pg.names()


def test_a_template_built_elsewhere_is_only_recorded_ready(context, fake_pg):
    fake_pg.marks["ipai_tpl_abc"] = owned(templates.ready_mark("ipai_tpl_abc"))
    building = TemplateSpec(11, "ipai_tpl_abc", "building", ("base", "sale"))
    ctx = context(job_spec(), Catalog(building).as_catalog())
    operations.ensure_template(ctx)
    assert "templates.build" not in fake_pg.names()
    assert effects(ctx) == [("template_ready", 11, 4096), ("use_template", 11)]


def test_template_conflicts(context, fake_pg):
    building = TemplateSpec(11, "ipai_tpl_abc", "building", ("base", "sale"))
    with pytest.raises(WaitingError):
        operations.ensure_template(context(job_spec(), Catalog(building, busy=True).as_catalog()))
    fake_pg.marks["ipai_tpl_abc"] = owned("tenant:acme")
    with pytest.raises(PermanentError, match="is not a finished template"):
        operations.ensure_template(context(job_spec(), Catalog(building).as_catalog()))
    assert "templates.build" not in fake_pg.names()


# ------------------------------------------------------------- warm pool

POOL_DB = "odoo__pool_0123456789ab"


def pooled_job(member_state=pool.CLAIMED, mine=True, tokens=("a-tok", "b-tok")):
    tenant = tenant_spec(
        database=POOL_DB,
        runtime_role="tenant__pool_0123456789ab__odoo",
        db_role="tenant__pool_0123456789ab",
    )
    member = PoolMemberSpec(
        5, POOL_DB, tenant.runtime_role, tenant.db_role, member_state, mine, *tokens
    )
    return job_spec(params='{"pooled": true}', tenant=tenant, pool_member=member)


def test_adopting_a_member_hands_over_its_passwords_then_forgets_it(context, fake_pg):
    fake_pg.marks[POOL_DB] = owned(pool.mark(POOL_DB))
    ctx = context(pooled_job())
    operations.adopt_pool_member(ctx)
    assert fake_pg.marks[POOL_DB] == owned("tenant:acme")
    assert effects(ctx) == [
        ("store_secret", "admin_password", "plain(a-tok)", True),
        ("store_secret", "db_role_password", "plain(b-tok)", False),
        ("forget_pool_member", 5),
    ]
    assert fake_pg.calls[-1][0] == "ensure_schema"


def test_a_member_not_claimed_by_this_tenant_is_not_adopted(context, fake_pg):
    fake_pg.marks[POOL_DB] = owned(pool.mark(POOL_DB))
    with pytest.raises(PermanentError, match="is not this tenant's; nothing was changed"):
        operations.adopt_pool_member(context(pooled_job(mine=False)))
    with pytest.raises(PermanentError, match="is not claimed by acme"):
        operations.adopt_pool_member(context(pooled_job(member_state=pool.READY)))
    assert fake_pg.marks[POOL_DB] == owned(pool.mark(POOL_DB))
    with pytest.raises(PermanentError, match="has no passwords"):
        operations.adopt_pool_member(context(pooled_job(tokens=(None, None))))


# ------------------------------------------------------ activation, state


def test_activation_sets_the_state_before_the_welcome_mail(context, fake_pg):
    ctx = context(job_spec())
    operations.activate_new_tenant(ctx)
    assert effects(ctx) == [
        ("set_state", lifecycle.ACTIVE),
        ("queue_welcome_mail", "http://acme.example.test/reset?hours=72"),
    ]
    silent = context(job_spec(tenant=tenant_spec(admin_email=None)))
    operations.activate_new_tenant(silent)
    assert effects(silent) == [("set_state", lifecycle.ACTIVE)]
    assert silent.lines[-1] == "no administrator e-mail: no welcome mail"


def test_final_state_and_push_state(context, fake_pg):
    ctx = context(job_spec("suspend"))
    for _name, _label, step in operations.KINDS["suspend"].steps():
        step(ctx)
    assert fake_pg.calls == [("tenant_db.push_tenant_config", "odoo_acme", {"state": "suspended"})]
    assert effects(ctx) == [("set_state", lifecycle.SUSPENDED)]


def test_configure_pushes_the_specs_settings(context, fake_pg):
    ctx = context(job_spec("change_plan"))
    operations.configure_tenant(ctx)
    assert fake_pg.calls == [
        (
            "tenant_db.push_tenant_config",
            "odoo_acme",
            {"code": "acme", "plan": "starter", "limits": {"users": 5}},
        )
    ]


def test_a_failed_module_update_asks_for_a_rollback(context, fake_pg, monkeypatch):
    def fail(*_args, **_kwargs):
        raise PermanentError("sale: ImportError")

    monkeypatch.setattr(templates, "odoo_modules", fail)
    ctx = context(job_spec("upgrade", params='{"modules": ["sale"]}'))
    backup_steps.upgrade_modules(ctx)
    assert effects(ctx) == [("needs_rollback", "sale: ImportError")]


def test_rollback_steps_run_only_after_a_failed_upgrade(context, fake_pg):
    calls = []
    step = backup_steps.only_on_rollback(lambda ctx: calls.append(ctx))
    step(context(job_spec("upgrade")))
    assert calls == []
    failed = context(job_spec("upgrade", rollback_error="boom"))
    step(failed)
    assert calls == [failed]


# ---------------------------------------------------------------- removal


def test_drop_database_only_drops_what_is_marked_ours(context, fake_pg):
    ctx = context(job_spec("drop"))
    operations.drop_database(ctx)
    assert ctx.lines == ["database odoo_acme already gone"]
    fake_pg.marks["odoo_acme"] = owned("tenant:beta")
    with pytest.raises(PermanentError, match="Refusing to drop odoo_acme"):
        operations.drop_database(ctx)
    fake_pg.marks["odoo_acme"] = owned("tenant:acme")
    operations.drop_database(ctx)
    assert fake_pg.calls == [("drop_database", "odoo_acme")]


def test_drop_role_forgets_the_secrets_after_the_roles(context, fake_pg):
    ctx = context(job_spec("drop"))
    operations.drop_role(ctx)
    assert fake_pg.calls == [("drop_role", "tenant_acme"), ("drop_role", "tenant_acme__odoo")]
    assert effects(ctx) == [("forget_secrets",)]


def test_undo_of_a_new_tenant_removes_only_what_is_its_own(context, fake_pg):
    fake_pg.marks[POOL_DB] = owned("tenant:beta")  # not this tenant's: stays
    fake_pg.roles.add("tenant__pool_0123456789ab__odoo")
    ctx = context(pooled_job())
    ctx.spec.kind.undo(ctx)
    assert ("pool.remove", POOL_DB, ctx.tenant.runtime_role, ctx.tenant.db_role) in fake_pg.calls
    assert POOL_DB in fake_pg.marks
    assert ("drop_role", "tenant__pool_0123456789ab__odoo") in fake_pg.calls
    assert ("drop_role", "tenant__pool_0123456789ab") not in fake_pg.calls
    assert effects(ctx) == [("forget_pool_member", 5), ("forget_secrets",)]


def test_an_active_tenant_is_never_undone(context, fake_pg):
    fake_pg.marks["odoo_acme"] = owned("tenant:acme")
    ctx = context(job_spec(tenant=tenant_spec(state=lifecycle.ACTIVE)))
    ctx.spec.kind.undo(ctx)
    assert fake_pg.calls == []
    assert effects(ctx) == []


# ---------------------------------------------------------------- backups


def test_a_backup_is_recorded_once(context, fake_pg, monkeypatch):
    taken = []
    result = {"dump_size": 10, "filestore_size": 2}

    def take(_server, as_tenant, database, files, folder):
        taken.append((as_tenant.user, database, files, folder))
        return result

    monkeypatch.setattr(backup_steps.backups, "take", take)
    ctx = context(job_spec("backup", params='{"kind": "manual"}'))
    ctx.spec.kind.steps()[0][2](ctx)
    folder = "/backups/acme/20260101-120000-manual-j7"
    assert taken == [("tenant_acme__odoo", "odoo_acme", "/filestore/odoo_acme", folder)]
    assert effects(ctx) == [("record_backup", "manual", result, f"{folder}/database.dump")]
    taken = BackupSpec(9, "acme backup", folder, "d", "f", "acme", True)
    again = context(job_spec("backup", backup=taken))
    again.spec.kind.steps()[0][2](again)
    assert again.lines == ["backup acme backup already taken"]
    assert effects(again) == []


def test_a_restore_in_place_takes_only_its_own_tenants_backup(context, fake_pg):
    other = BackupSpec(9, "beta backup", "/backups/beta/x", "d", "f", "beta", False, ("mrp",))
    in_place = job_spec("restore", params='{"mode": "in_place"}', restore_backup=other)
    with pytest.raises(PermanentError, match="not one of acme's"):
        backup_steps.verify_backup(context(in_place))
    new = context(job_spec("restore", params='{"mode": "new"}', restore_backup=other))
    backup_steps.verify_backup(new)
    assert effects(new) == [("keep_modules", ["mrp"])]
    with pytest.raises(PermanentError, match="No pre-upgrade backup"):
        backup_steps.restore_source(context(job_spec("upgrade")))


# --------------------------------------------------------------- superset


def test_the_workspace_step_is_skipped_without_superset_or_bi(context, fake_pg, monkeypatch):
    called = []
    monkeypatch.setattr(superset_workspace, "provision_workspace", lambda *a, **k: called.append(a))
    monkeypatch.delenv("SUPERSET_URL", raising=False)
    ctx = context(job_spec())
    superset_workspace.provision_step(ctx)
    assert ctx.lines == ["skipped: no Superset configured (SUPERSET_URL)"]
    assert ctx.outcome.skipped == "no Superset configured (SUPERSET_URL)"
    monkeypatch.setenv("SUPERSET_URL", "http://superset.test")
    superset_workspace.provision_step(ctx)
    assert ctx.lines[-1] == "skipped: plan starter has no embedded BI"
    assert called == []
    bi = context(job_spec(tenant=tenant_spec(plan_has_bi=True), bi_token="tok"))
    superset_workspace.provision_step(bi)
    assert called == [(bi.tenant, "plain(tok)", bi.server)]
    assert effects(bi) == [("set_workspace", superset_workspace.workspace_name("acme"))]
