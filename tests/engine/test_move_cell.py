"""The move_cell job's steps, on fake PostgreSQL (conftest.fake_pg): the
order of what they touch, and the route switched through the runner."""

import pytest
from odoo.addons.ipai_platform_rules import lifecycle
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError
from odoo.addons.ipai_tenant_engine.provisioning import (
    operations,
    runtime_access,
    superset_workspace,
)

from .builders import job_spec, owned, tenant_spec


def move_spec(target="b", cell="main"):
    tenant = tenant_spec(state=lifecycle.ACTIVE, cell=cell)
    return job_spec("move_cell", tenant=tenant, params=f'{{"cell_code": "{target}"}}')


def test_the_move_plan_ends_old_connections_before_the_route_moves():
    names = [name for name, _label, _fn in operations.KINDS["move_cell"].steps()]
    assert names == ["check_request", "rekey", "forget", "switch_route", "check_answers"]


def test_a_move_to_a_malformed_cell_changes_nothing(context, fake_pg):
    fake_pg.marks["odoo_acme"] = owned("tenant:acme")
    with pytest.raises(PermanentError, match="cell code"):
        operations.check_move(context(move_spec(target="B; DROP")))
    assert fake_pg.calls == []


def test_rekey_gives_the_role_the_target_cells_password(context, fake_pg, monkeypatch):
    resealed = []
    monkeypatch.setattr(
        superset_workspace,
        "reseal_for_cell",
        lambda _server, database, old, new: resealed.append((database, old, new)) or True,
    )
    ctx = context(move_spec())
    operations.rekey_for_target_cell(ctx)
    assert fake_pg.calls == [("ensure_owned_role", "tenant_acme__odoo", "b")]
    assert resealed == [("odoo_acme", "main", "b")]


def test_the_route_switch_is_recorded_for_the_runner(context, fake_pg, monkeypatch):
    monkeypatch.setattr(runtime_access, "forget_role_sessions", lambda _server, _role: 3)
    ctx = context(move_spec())
    operations.forget_in_old_cell(ctx)
    operations.switch_route(ctx)
    assert [(e.hook, *e.args) for e in ctx.outcome.effects] == [("set_cell", "b")]
    assert "3 open connections of cell main ended" in ctx.lines
