"""Job kinds: what the engine knows of each type of job.

A kind is plain data: its plans of steps (one, or several that its
parameters choose between), the parameters a request may give, whether
it makes a new tenant database, and what a permanent failure leaves to
undo. The engine's own kinds are ``operations.KINDS``; an addon adds
kinds, or extends one, through ``ipai.tenant.job._job_kinds()`` (data
safety adds backup, restore and upgrade, and a backup before an archive).
A job's spec carries its kind, so steps and the runner ask the kind,
never a table of job types.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from odoo.addons.ipai_platform_rules import lifecycle
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError


def never(_params):
    return False


def always(_params):
    return True


def no_marks(_ctx):
    return frozenset()


@dataclass(frozen=True)
class JobKind:
    name: str
    # Plan name -> its steps, ((step name, label, function), ...).
    plans: Mapping
    # The parameters a request may give; anything else is refused.
    params: frozenset = frozenset()
    # params -> the plan to run; None: the plan named as the kind.
    choose: Callable | None = None
    # params -> whether the job makes a new tenant database (the tenant is
    # 'provisioning' while it runs, and the copy's data is neutralized).
    makes_database: Callable = never
    # params -> whether the new database holds another's data (a clone
    # with data, a restore into a new tenant): neutralized before use.
    copies_data: Callable = never
    # ctx -> what a permanent failure removes or puts back; None: nothing.
    undo: Callable | None = None
    # ctx -> database marks a step may meet besides the tenant's own (a
    # restore's database renamed into place but not marked yet).
    extra_marks: Callable = no_marks

    def __post_init__(self):
        object.__setattr__(self, "plans", MappingProxyType(dict(self.plans)))

    def plan_name(self, params=None):
        return self.choose(params or {}) if self.choose else self.name

    def steps(self, params=None):
        return self.plans[self.plan_name(params)]

    def step(self, params, name):
        for step_name, _label, function in self.steps(params):
            if step_name == name:
                return function
        raise PermanentError(f"Unknown step {name} for a {self.name} job.")

    def running_state(self, params=None):
        """Where the job leaves its tenant while it runs: a job that makes
        a new database keeps it 'provisioning'."""
        return lifecycle.PROVISIONING if self.makes_database(params or {}) else None

    def with_steps_first(self, *steps):
        """This kind with ``steps`` before each of its plans' own."""
        return replace(self, plans={name: (*steps, *plan) for name, plan in self.plans.items()})
