"""The step table (operations.PLANS) and the job-type rules around it."""

import inspect
import re
from pathlib import Path

import pytest
from odoo.addons.ipai_platform_rules import lifecycle
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError
from odoo.addons.ipai_tenant_engine.models.ipai_tenant_job import JOB_TYPES
from odoo.addons.ipai_tenant_engine.provisioning import operations

ENGINE = Path(operations.__file__).parent


@pytest.mark.parametrize("key", sorted(operations.PLANS))
def test_every_plan_is_a_list_of_uniquely_named_callables(key):
    steps = operations.PLANS[key]
    names = [name for name, _label, _function in steps]
    assert steps, key
    assert len(names) == len(set(names)), f"{key} repeats a step name"
    for name, label, function in steps:
        assert re.fullmatch(r"[a-z_]+", name), name
        assert label and label[0].isupper(), (key, name)
        assert callable(function), (key, name)
        assert len(inspect.signature(function).parameters) >= 1, (key, name)


@pytest.mark.parametrize("key", sorted(operations.PLANS))
def test_the_step_functions_of_a_plan_are_distinct(key):
    """Factories (final_state, push_state, take_backup, only_on_rollback)
    name what they make: a table read by name never picks a twin."""
    functions = [function.__name__ for _name, _label, function in operations.PLANS[key]]
    named = dict(zip([n for n, *_ in operations.PLANS[key]], functions, strict=True))
    assert "step" not in functions
    # The same function under two names only where a plan repeats a shared
    # step on purpose (an upgrade pushes its settings once, at the end).
    assert len(set(named.values())) >= len(named) - 1


def test_undo_sets_name_real_plans_and_do_not_overlap():
    assert set(operations.PLANS) >= operations.UNDO_NEW_TENANT
    assert set(operations.PLANS) >= operations.UNDO_IN_PLACE
    assert not operations.UNDO_NEW_TENANT & operations.UNDO_IN_PLACE


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
def test_plan_key(job_type, params, key):
    assert operations.plan_key(job_type, params) == key
    assert operations.steps_for(job_type, params) is operations.PLANS[key]


@pytest.mark.parametrize("job_type", [job_type for job_type, _label in JOB_TYPES])
def test_every_job_type_has_a_plan(job_type):
    assert operations.plan_key(job_type, {}) in operations.PLANS


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
    assert operations.running_state(job_type, params) == state


def test_step_function_finds_the_named_step_and_refuses_others():
    assert operations.step_function("create", {}, "check_request") is operations.check_request
    assert (
        operations.step_function("create", {"pooled": True}, "personalize")
        is operations.personalize_and_activate
    )
    assert (
        operations.step_function("create", {"pooled": True, "bi": True}, "personalize")
        is operations.personalize
    )
    with pytest.raises(PermanentError, match="Unknown step drop_database for a create job"):
        operations.step_function("create", {}, "drop_database")


def test_a_new_tenant_is_activated_last_and_checked_first():
    for key in operations.UNDO_NEW_TENANT:
        names = [name for name, *_rest in operations.PLANS[key]]
        assert names[-1] in ("activate", "personalize"), key
        assert names[0] in ("check_request", "adopt_pool_member"), key


def test_the_engine_reaches_no_record():
    """Steps read the spec and record an outcome: nothing in the engine
    imports the models or touches an environment, a job or a tenant record."""
    forbidden = re.compile(
        r"from \.\.models|ctx\.env\b|ctx\.job\b|\.sudo\(\)|\.env\[|_store_secret|"
        r"_set_state_from_engine|_public_url\(|_tenant_side_config\(|\.plan_id\b"
    )
    offenders = []
    for path in sorted(ENGINE.glob("*.py")):
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
