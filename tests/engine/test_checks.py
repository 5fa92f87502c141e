"""verify_targets, names_problem and verify_source on specs with wrong names."""

import pytest
from odoo.addons.ipai_platform_rules import naming
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError
from odoo.addons.ipai_tenant_data_safety.provisioning import backup_steps
from odoo.addons.ipai_tenant_engine.provisioning import operations, pool
from odoo.addons.ipai_tenant_engine.provisioning.spec import PoolMemberSpec

from .builders import job_spec, owned, tenant_spec

TOKEN = "0123456789ab"
POOL_DB = naming.pool_database_name(TOKEN)


def pooled_tenant(**values):
    return tenant_spec(
        database=POOL_DB,
        runtime_role=naming.pool_role_name(TOKEN),
        db_role=naming.pool_bi_role_name(TOKEN),
        **values,
    )


def test_names_its_code_gives_are_right():
    assert operations.names_problem(tenant_spec()) == []
    assert operations.names_problem(pooled_tenant()) == []


@pytest.mark.parametrize(
    ("values", "wrong"),
    [
        ({"database": "odoo_beta"}, ["database"]),
        ({"db_role": "tenant_beta"}, ["BI role"]),
        ({"runtime_role": "tenant_beta__odoo"}, ["tenant role"]),
        ({"analytics_schema": "public"}, ["analytics schema"]),
        ({"database": "postgres", "runtime_role": "ipai"}, ["database", "tenant role"]),
        # A pool database with a tenant's derived roles: never a mixed pair.
        ({"database": POOL_DB}, ["BI role", "tenant role"]),
    ],
)
def test_names_problem_lists_what_differs(values, wrong):
    assert operations.names_problem(tenant_spec(**values)) == wrong


def test_names_follow_the_platforms_prefixes():
    tenant = tenant_spec(database_prefix="run1_odoo_")
    assert operations.names_problem(tenant) == ["database"]
    moved = tenant_spec(database_prefix="run1_odoo_", database="run1_odoo_acme")
    assert operations.names_problem(moved) == []


def test_wrong_names_touch_nothing(context, fake_pg):
    ctx = context(job_spec(tenant=tenant_spec(database="odoo_beta")))
    looked_up = []
    fake_pg.mark_of = lambda *args: looked_up.append(args)
    with pytest.raises(PermanentError, match="database of tenant acme is not the one its code"):
        operations.verify_targets(ctx)
    assert looked_up == []


def test_verify_targets_accepts_only_this_tenants_mark(context, fake_pg):
    ctx = context(job_spec())
    operations.verify_targets(ctx)  # no database yet
    fake_pg.marks["odoo_acme"] = ""
    operations.verify_targets(ctx)  # made, not marked yet
    fake_pg.marks["odoo_acme"] = owned("tenant:acme")
    operations.verify_targets(ctx)
    fake_pg.marks["odoo_acme"] = owned("tenant:beta")
    with pytest.raises(PermanentError, match="odoo_acme is not marked as this tenant's"):
        operations.verify_targets(ctx)


def test_a_restoring_mark_is_accepted_by_restores_and_upgrades_only(context, fake_pg):
    fake_pg.marks["odoo_acme"] = owned(backup_steps.restoring_mark("acme"))
    for job_type in ("restore", "upgrade"):
        operations.verify_targets(context(job_spec(job_type)))
    with pytest.raises(PermanentError):
        operations.verify_targets(context(job_spec("suspend")))


@pytest.mark.parametrize(
    ("mine", "database", "accepted"),
    [(True, POOL_DB, True), (False, POOL_DB, False), (True, "odoo_pool_other", False)],
)
def test_a_pool_mark_only_on_the_member_this_job_claimed(
    context, fake_pg, mine, database, accepted
):
    fake_pg.marks[POOL_DB] = owned(pool.mark(POOL_DB))
    member = PoolMemberSpec(3, database, "r", "b", pool.CLAIMED, mine)
    ctx = context(job_spec(tenant=pooled_tenant(), pool_member=member))
    if accepted:
        operations.verify_targets(ctx)
    else:
        with pytest.raises(PermanentError):
            operations.verify_targets(ctx)


def test_verify_source(context, fake_pg):
    ctx = context(job_spec("clone"))
    source = tenant_spec("beta")
    fake_pg.marks["odoo_beta"] = owned("tenant:beta")
    operations.verify_source(ctx, source)
    with pytest.raises(PermanentError, match="source tenant beta is not the one"):
        operations.verify_source(ctx, tenant_spec("beta", database="odoo_acme"))
    fake_pg.marks["odoo_beta"] = owned("tenant:acme")
    with pytest.raises(PermanentError, match="odoo_beta is not marked as beta's database"):
        operations.verify_source(ctx, source)
