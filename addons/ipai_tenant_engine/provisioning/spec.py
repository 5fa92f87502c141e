"""What a step is given and what it gives back.

The records build a frozen ``JobSpec`` once per step (``ipai.tenant.job.
_engine_spec``): the tenant's names, URL, administrator, company, plan and
module sets, the job's parameters and what earlier steps left on the job
(template, pool member; an addon's kinds add their own, e.g. data
safety's backup and resume state). A step reads that and nothing else, and
writes nothing to the platform: it records what happened in an ``Outcome``
(secrets to store, the state reached, the template built...), which the
runner applies through the models' engine hooks, in the order recorded and
in the step's own transaction, before it commits the step.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from odoo.addons.ipai_platform_rules import cells
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError

from .kinds import JobKind


@dataclass(frozen=True)
class CompanyValues:
    name: str
    email: str | None
    country_code: str | None

    def as_dict(self):
        return {"name": self.name, "email": self.email, "country_code": self.country_code}


@dataclass(frozen=True)
class TenantSpec:
    code: str
    name: str
    state: str
    database: str
    db_role: str
    runtime_role: str
    analytics_schema: str
    # The prefixes of this platform's names (system parameters).
    database_prefix: str
    role_prefix: str
    url: str
    primary_domain: str
    admin_email: str | None
    admin_name: str
    company: CompanyValues
    plan_code: str
    plan_has_bi: bool
    # The plan's modules and the tenant-side ones (what a template holds).
    modules: tuple
    # What a child Odoo may load: the set above and what earlier plans left.
    allowed_modules: tuple
    # What the tenant database must know about itself, as JSON (frozen).
    config_json: str = "{}"
    # The tenant's cell: its role's password derives from the cell's secret.
    cell: str = cells.DEFAULT_CELL

    @property
    def mark(self):
        """The ownership mark of this tenant's database."""
        return f"tenant:{self.code}"

    @property
    def admin_login(self):
        return self.admin_email or "admin"

    @property
    def tenant_side_config(self):
        """A fresh copy each time: a step may not change the spec."""
        return json.loads(self.config_json)


@dataclass(frozen=True)
class PoolMemberSpec:
    id: int
    database: str
    role: str
    bi_role: str
    state: str
    # Claimed by the tenant of this job (member.tenant_id == job.tenant_id).
    mine: bool
    # Its passwords, encrypted (decrypted by the step that hands them over).
    admin_token: str | None = field(default=None, repr=False)
    bi_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TemplateSpec:
    id: int
    database: str
    state: str
    modules: tuple


@dataclass(frozen=True)
class JobSpec:
    id: int
    job_type: str
    tenant: TenantSpec
    params_json: str = "{}"
    # What the engine knows of the job's type (kinds.py).
    kind: JobKind | None = None
    # create_date as %Y%m%d-%H%M%S, the stamp of what the job names by date.
    stamp: str = ""
    pool_member: PoolMemberSpec | None = None
    template: TemplateSpec | None = None
    # A clone's source (or an addon's kind's source), looked up as the
    # job's requester may see it; None with the reason when there is none.
    clone_source: TenantSpec | None = None
    missing_source: str | None = None
    # What an addon's kinds add to the spec, frozen as well (data safety:
    # the backup taken or restored, the state to resume, its settings).
    extra: Any = None
    # The BI role's password, encrypted (the Superset step decrypts it).
    bi_token: str | None = field(default=None, repr=False)

    @property
    def params(self):
        return json.loads(self.params_json)

    def source_tenant(self):
        """The clone's source, or the reason there is none as an error."""
        if self.clone_source is None:
            raise PermanentError(self.missing_source or "This job has no source tenant.")
        return self.clone_source


@dataclass(frozen=True)
class TemplateCatalog:
    """What a template build must ask the platform while it runs (it cannot
    wait for the outcome): the template record of a module set, recorded
    in its own committed transaction when new, and the build lock on its
    row, held until the step commits (WaitingError when another job has
    it). Both come from ipai.tenant.template."""

    for_modules: Callable  # modules -> TemplateSpec
    lock_for_build: Callable  # template id -> None


# The hooks an outcome may call, on the job record (ipai.tenant.job): each
# is a small method that calls the model hook of old (_store_secret,
# _set_state_from_engine, _queue_welcome_mail...).
_HOOKS = {
    "store_secret",
    "forget_secrets",
    "set_state",
    "keep_modules",
    "use_template",
    "template_ready",
    "set_workspace",
    "queue_welcome_mail",
    "forget_pool_member",
    "set_cell",
}


def add_hooks(*names):
    """Hooks an addon's steps may record (each a ``_engine_<name>`` method
    its ``_inherit`` of the job adds): data safety's backup hooks."""
    _HOOKS.update(names)


def known_hooks():
    return frozenset(_HOOKS)


@dataclass(frozen=True)
class Effect:
    hook: str
    args: tuple = field(default=(), repr=False)  # may hold a password

    def __post_init__(self):
        if self.hook not in _HOOKS:
            raise ValueError(f"unknown engine hook {self.hook}")


@dataclass
class Outcome:
    """What one step did: its log lines and the effects the runner applies;
    ``skipped``: why it did nothing, when it did nothing."""

    lines: list = field(default_factory=list)
    effects: list = field(default_factory=list)
    skipped: str | None = None

    def log(self, message):
        self.lines.append(message)

    def skip(self, reason):
        self.skipped = reason
        self.lines.append(f"skipped: {reason}")

    def record(self, hook, *args):
        self.effects.append(Effect(hook, args))

    def hooks(self):
        return [effect.hook for effect in self.effects]

    def apply(self, target):
        """Call each effect's hook on ``target`` (the job record), in the
        order the step recorded them: a state set before a mail is queued
        is the state the mail is rendered with."""
        for effect in self.effects:
            getattr(target, f"_engine_{effect.hook}")(*effect.args)
