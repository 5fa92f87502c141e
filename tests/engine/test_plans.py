"""The job kinds (their plans of steps) and the rules around them."""

import inspect
import re
from pathlib import Path

import pytest
from odoo.addons.ipai_platform_rules import lifecycle
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError
from odoo.addons.ipai_tenant_engine.models.ipai_tenant_job import JOB_TYPES
from odoo.addons.ipai_tenant_engine.provisioning import operations

from .builders import KINDS

SAFETY_NAMES = ("upgrade", "backup", "restore", "move_server", "import", "export")
SAFETY_TYPES = [(name, "") for name in SAFETY_NAMES]

ENGINE = Path(operations.__file__).parent
SAFETY = ENGINE.parent.parent / "ipai_tenant_data_safety" / "provisioning"


# Every plan of every kind a platform with all its addons knows.
PLANS = {plan: steps for kind in KINDS.values() for plan, steps in kind.plans.items()}
MAKES_TENANT = {
    "create": {},
    "create_pooled": {"pooled": True},
    "create_pooled_bi": {"pooled": True, "bi": True},
    "clone": {},
    "clone_data": {"with_data": True},
    "restore_new": {"mode": "new"},
}


@pytest.mark.parametrize("key", sorted(PLANS))
def test_every_plan_is_a_list_of_uniquely_named_callables(key):
    steps = PLANS[key]
    names = [name for name, _label, _function in steps]
    assert steps, key
    assert len(names) == len(set(names)), f"{key} repeats a step name"
    for name, label, function in steps:
        assert re.fullmatch(r"[a-z_]+", name), name
        assert label and label[0].isupper(), (key, name)
        assert callable(function), (key, name)
        assert len(inspect.signature(function).parameters) >= 1, (key, name)


@pytest.mark.parametrize("key", sorted(PLANS))
def test_the_step_functions_of_a_plan_are_distinct(key):
    """Factories (final_state, push_state, take_backup, only_on_rollback)
    name what they make: a table read by name never picks a twin."""
    functions = [function.__name__ for _name, _label, function in PLANS[key]]
    named = dict(zip([n for n, *_ in PLANS[key]], functions, strict=True))
    assert "step" not in functions
    # The same function under two names only where a plan repeats a shared
    # step on purpose (an upgrade pushes its settings once, at the end).
    assert len(set(named.values())) >= len(named) - 1


def test_the_kinds_are_named_as_the_job_types():
    assert sorted(KINDS) == sorted(job_type for job_type, _label in JOB_TYPES + SAFETY_TYPES)
    assert all(name == kind.name for name, kind in KINDS.items())
    assert set(operations.KINDS) == {job_type for job_type, _label in JOB_TYPES}


@pytest.mark.parametrize(
    ("job_type", "params", "key"),
    [
        ("create", {}, "create"),
        ("create", {"pooled": True}, "create_pooled"),
        ("create", {"pooled": True, "bi": True}, "create_pooled_bi"),
        ("create", {"bi": True}, "create"),
        ("clone", {}, "clone"),
        ("clone", {"with_data": True}, "clone_data"),
        ("restore", {"mode": "new"}, "restore_new"),
        ("restore", {"mode": "in_place"}, "restore_in_place"),
        ("restore", None, "restore_in_place"),
        ("upgrade", {"modules": ["sale"]}, "upgrade"),
        ("drop", None, "drop"),
    ],
)
def test_plan_name(job_type, params, key):
    assert KINDS[job_type].plan_name(params) == key
    assert KINDS[job_type].steps(params) is KINDS[job_type].plans[key]


@pytest.mark.parametrize("job_type", sorted(KINDS))
def test_every_job_type_has_a_plan(job_type):
    assert KINDS[job_type].plan_name({}) in KINDS[job_type].plans


@pytest.mark.parametrize(
    ("job_type", "params", "state"),
    [
        ("create", {}, lifecycle.PROVISIONING),
        ("create", {"pooled": True}, lifecycle.PROVISIONING),
        ("clone", {"with_data": True}, lifecycle.PROVISIONING),
        ("restore", {"mode": "new"}, lifecycle.PROVISIONING),
        ("restore", {"mode": "in_place"}, None),
        ("upgrade", {}, None),
        ("suspend", {}, None),
        ("backup", {}, None),
    ],
)
def test_running_state(job_type, params, state):
    assert KINDS[job_type].running_state(params) == state


def test_a_step_is_found_by_name_and_others_refused():
    create = KINDS["create"]
    assert create.step({}, "check_request") is operations.check_request
    assert create.step({"pooled": True}, "personalize") is operations.personalize_and_activate
    assert create.step({"pooled": True, "bi": True}, "personalize") is operations.personalize
    with pytest.raises(PermanentError, match="Unknown step drop_database for a create job"):
        create.step({}, "drop_database")


def test_a_new_tenant_is_activated_last_checked_first_and_undone_on_failure():
    for job_type, kind in KINDS.items():
        for plan, params in MAKES_TENANT.items():
            if plan not in kind.plans:
                continue
            assert kind.makes_database(params), plan
            assert kind.undo, plan
            names = [name for name, *_rest in kind.plans[plan]]
            assert names[-1] in ("activate", "personalize"), plan
            assert names[0] in ("check_request", "adopt_pool_member"), (job_type, plan)


def test_data_safety_extends_the_archive_with_a_backup_first():
    archive = KINDS["archive"]
    assert archive.steps()[0][0] == "backup"
    assert archive.steps()[1:] == operations.KINDS["archive"].steps()
    assert archive.undo is None


def test_the_engine_reaches_no_record():
    """Steps read the spec and record an outcome: nothing in the engine
    imports the models or touches an environment, a job or a tenant record."""
    forbidden = re.compile(
        r"from \.\.models|ctx\.env\b|ctx\.job\b|\.sudo\(\)|\.env\[|_store_secret|"
        r"_set_state_from_engine|_public_url\(|_tenant_side_config\(|\.plan_id\b"
    )
    offenders = []
    for path in sorted([*ENGINE.glob("*.py"), *SAFETY.glob("*.py")]):
        if path.name in ("runner.py", "superset_workspace.py"):
            continue  # the runner builds specs; checked below
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if forbidden.search(line) and not line.lstrip().startswith("#"):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []


def test_the_superset_step_reads_the_spec():
    source = inspect.getsource(operations.superset_workspace.provision_step)
    source += inspect.getsource(operations.superset_workspace.provision_workspace)
    assert "ctx.env" not in source
    assert "ctx.tenant._" not in source
    assert "plan_id" not in source
