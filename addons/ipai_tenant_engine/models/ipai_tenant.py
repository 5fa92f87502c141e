"""What the engine adds to a tenant: its jobs, usage and schema docs, and
the actions that queue jobs (provision, suspend, reactivate, clone, change
plan, archive, drop), which forms, the REST API and the CLI all call."""

import base64
import io
import json
import logging
import zipfile

from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import cells, jobs, lifecycle, roles
from odoo.addons.ipai_platform_rules.tenant_side import WELCOME_LINK_HOURS, with_tenant_side
from odoo.addons.ipai_tenant_core.infra import crypto
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError
from odoo.addons.ipai_tenant_core.models.ipai_tenant import CLONING
from odoo.addons.ipai_tenant_core.models.ipai_tenant_secret import WELCOME_LINK
from odoo.exceptions import AccessError, UserError, ValidationError

from ..provisioning import introspect, runtime_access
from ..provisioning.spec import CompanyValues, TenantSpec

# A tenant whose database is served can have its schema documented.
_logger = logging.getLogger(__name__)

SERVED_STATES = (lifecycle.ACTIVE, lifecycle.SUSPENDED)


class IpaiTenant(models.Model):
    _inherit = "ipai.tenant"

    job_ids = fields.One2many("ipai.tenant.job", "tenant_id", string="Jobs")
    job_count = fields.Integer(compute="_compute_job_count")
    is_busy = fields.Boolean(compute="_compute_job_count", help="A job is queued or running.")
    metric_ids = fields.One2many("ipai.tenant.metric", "tenant_id", string="Usage")
    # Set by placement when the tenant is made (a platform manager may
    # choose it then) and by a move job after; never by a provider.
    cell_id = fields.Many2one(
        "ipai.tenant.cell",
        index=True,
        ondelete="restrict",
        copy=False,
        tracking=True,
        groups="ipai_tenant_core.group_platform_user",
    )
    # What a provider may know of its tenant's cell: its name.
    cell_name = fields.Char(related="cell_id.name", string="Runtime cell")

    # ----------------------------------------------------------------- cells

    def _guarded_fields(self):
        guarded = super()._guarded_fields()
        if not self._is_platform_manager():
            guarded |= {"cell_id"}
        return guarded

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("cell_id") and not self._is_platform_manager():
                raise AccessError(self.env._("Only platform managers choose a tenant's cell."))
        # A provider's context may carry default_cell_id: the guarded
        # defaults are taken out of it before Odoo fills missing fields.
        tenants = super(IpaiTenant, self._without_guarded_defaults()).create(vals_list)
        tenants._place_in_cells(chosen=self._is_platform_manager())
        return tenants

    def write(self, vals):
        if "cell_id" in vals and not self.env.su:
            raise AccessError(
                self.env._("A tenant changes cell through a move job (Move to cell), not a write.")
            )
        result = super().write(vals)
        if "cell_id" in vals:
            self._bump_routing_version()
        return result

    def _place_in_cells(self, chosen):
        """Each new tenant's cell, by the placement policy (ipai_tenant_cell.py).
        A platform manager's choice stands; whatever else came in is replaced."""
        cell_model = self.env["ipai.tenant.cell"]
        for tenant in self.sudo():
            if chosen and tenant.cell_id:
                continue
            if tenant.plan_id.dedicated_cell:
                cell = cell_model._dedicated_cell_for(tenant)
            else:
                cell = cell_model._shared_cell_with_room()
            tenant.cell_id = cell

    @api.constrains("cell_id")
    def _check_cell_is_not_anothers(self):
        # On the stored record, whatever path set it: a dedicated cell
        # serves its own tenant and no other.
        for tenant in self.sudo():
            dedicated = tenant.cell_id.dedicated_tenant_id
            if dedicated and dedicated != tenant:
                raise ValidationError(
                    self.env._(
                        "Cell %(cell)s is dedicated to another tenant.", cell=tenant.cell_id.code
                    )
                )

    def action_move_to_cell(self, cell):
        """Queue a move of each tenant to ``cell`` (a record or a code)."""
        if not self._is_platform_manager():
            raise AccessError(self.env._("Only platform managers move a tenant between cells."))
        if isinstance(cell, str):
            cell = self.env["ipai.tenant.cell"].sudo().search([("code", "=", cell)], limit=1)
        if not cell:
            raise UserError(self.env._("No such cell."))
        for tenant in self.sudo():
            if tenant.cell_id == cell:
                raise UserError(
                    self.env._(
                        "%(tenant)s is in cell %(cell)s already.",
                        tenant=tenant.code,
                        cell=cell.code,
                    )
                )
            if cell.dedicated_tenant_id and cell.dedicated_tenant_id != tenant:
                raise UserError(self.env._("Cell %s is dedicated to another tenant.", cell.code))
            if tenant.state not in SERVED_STATES:
                raise UserError(
                    self.env._("Only a served tenant moves between cells; %s is not.", tenant.code)
                )
        self._queue_jobs(
            roles.OPERATE, "move_cell", self.env._("Moving"), params={"cell_code": cell.code}
        )
        return True

    def _compute_job_count(self):
        counts = self._count_by_tenant("ipai.tenant.job", "tenant_id")
        busy = (
            self.env["ipai.tenant.job"]
            .search([("tenant_id", "in", self.ids), ("state", "in", jobs.OPEN_STATES)])
            .tenant_id
        )
        for tenant in self:
            tenant.job_count = counts.get(tenant.id, 0)
            tenant.is_busy = tenant in busy

    def _queue_jobs(self, power, action, label, job_type=None, params=None):
        """One ``job_type`` job (by default named as ``action``, with
        ``params``) per tenant, once the caller holds ``power`` on them and
        their states allow ``action`` (``label`` names it in a refusal)."""
        self._check_power(power)
        self._ensure_action_allowed(action, label)
        for tenant in self:
            tenant.env["ipai.tenant.job"]._enqueue(tenant, job_type or action, params)

    def action_provision(self):
        self._queue_jobs(roles.OPERATE, "provision", self.env._("Provisioning"), job_type="create")
        for tenant in self:
            tenant._set_state_from_engine(lifecycle.PROVISIONING)
        return True

    def action_suspend(self):
        self._queue_jobs(roles.OPERATE, "suspend", self.env._("Suspending"))
        if self._is_platform_staff():
            # The platform's suspension is the platform's to lift.
            for tenant in self:
                tenant.sudo().platform_lock = True
        return True

    def action_reactivate(self):
        # Who may, before what state allows: a provider learns nothing more.
        self._check_power(roles.OPERATE)
        for tenant in self:
            if not self._is_platform_staff():
                if tenant.platform_lock:
                    raise UserError(
                        self.env._(
                            "%s was suspended by the platform; only the platform can "
                            "reactivate it.",
                            tenant.code,
                        )
                    )
                if tenant in self.env.user.ipai_reachable_tenant_ids:
                    raise UserError(
                        self.env._(
                            "%s is your own provider tenant; ask the platform to reactivate it.",
                            tenant.code,
                        )
                    )
        self._ensure_action_allowed("reactivate", self.env._("Reactivating"))
        for tenant in self:
            tenant.env["ipai.tenant.job"]._enqueue(tenant, "reactivate")
            tenant.sudo().platform_lock = False
        return True

    def action_archive_tenant(self):
        self._check_power(roles.OWN)
        self._ensure_action_allowed("archive", self.env._("Archiving"))
        for tenant in self:
            if tenant.state == lifecycle.DRAFT:
                # Nothing was ever created for a draft: no job needed.
                tenant.check_access("write")
                tenant._set_state_from_engine(lifecycle.ARCHIVED)
            else:
                tenant.env["ipai.tenant.job"]._enqueue(tenant, "archive")
        return True

    def action_drop(self):
        self._queue_jobs(roles.OWN, "drop", self.env._("Dropping"))
        return True

    def _change_plan(self, plan):
        """Move this tenant to ``plan``; a provisioned database gets a
        change_plan job (new limits pushed, new modules installed)."""
        self._may_change_plan()
        if plan == self.plan_id:
            raise UserError(self.env._("%s is already on this plan.", self.code))
        self.plan_id = plan
        # A provisioned database must learn its new limits; a draft has none yet.
        if self.state != lifecycle.DRAFT:
            self.env["ipai.tenant.job"]._enqueue(self, "change_plan", {"plan_code": plan.code})

    def _clone(self, code, name=None, with_data=False):
        """A new tenant ``code`` copied from this one (its module set, or its
        data too, neutralized), provisioning; returns it."""
        self._may_clone()
        tenants = self.env["ipai.tenant"]
        problem = tenants._new_code_problem(code)
        if problem:
            raise UserError(problem)
        cloning = CLONING.set(True)
        try:
            clone = tenants.create(
                {
                    "code": code,
                    "name": name or code,
                    "tenant_type": self._copy_type(),
                    "parent_id": self.parent_id.id,
                    "plan_id": self.plan_id.id,
                    "server_id": self.server_id.id,
                    "admin_email": self.admin_email,
                    "industry": self.industry,
                    "country_id": self.country_id.id,
                }
            )
        finally:
            CLONING.reset(cloning)
        self.env["ipai.tenant.job"]._enqueue(
            clone, "clone", {"source_code": self.code, "with_data": bool(with_data)}
        )
        clone._set_state_from_engine(lifecycle.PROVISIONING)
        return clone

    def _copy_type(self):
        """The type of a tenant made from this one: the platform owner's
        copies are clients."""
        return "client" if self.tenant_type == "platform_owner" else self.tenant_type

    def _may_change_plan(self):
        self.ensure_one()
        self._check_power(roles.OPERATE)
        self._ensure_action_allowed("change_plan", self.env._("Changing the plan"))

    def _may_clone(self):
        self.ensure_one()
        # Whatever id was sent for the source: the caller must be able to read it.
        self.check_access("read")
        self._check_power(roles.OPERATE)
        self._ensure_action_allowed("clone", self.env._("Cloning"))

    # The wizards' forms are refused before they open when the caller may
    # not, or the state does not allow, what they do (their model methods
    # check again when they run).
    def action_open_change_plan(self):
        self._may_change_plan()
        context = {"default_tenant_id": self.id, "default_plan_id": self.plan_id.id}
        return self._wizard_form("ipai.tenant.change.plan", self.env._("Change plan"), context)

    def action_open_clone(self):
        self._may_clone()
        context = {"default_source_id": self.id}
        return self._wizard_form("ipai.tenant.clone", self.env._("Clone tenant"), context)

    def _wizard_form(self, wizard, title, context):
        return {
            "type": "ir.actions.act_window",
            "name": title,
            "res_model": wizard,
            "view_mode": "form",
            "target": "new",
            "context": context,
        }

    def _form_action(self):
        """Open this tenant's form (where a wizard that made or restored it
        lands)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "ipai.tenant",
            "res_id": self.id,
            "view_mode": "form",
        }

    def action_view_jobs(self):
        return self._open_related(
            "ipai.tenant.job", [("tenant_id", "=", self.id)], self.env._("Jobs")
        )

    def action_view_usage(self):
        action = self._open_related(
            "ipai.tenant.metric", [("tenant_id", "=", self.id)], self.env._("Usage")
        )
        action["view_mode"] = "graph,pivot,list"
        return action

    def _engine_module_set(self):
        """The modules of this tenant's plan and the tenant-side ones."""
        self.ensure_one()
        return with_tenant_side(self.plan_id._module_names())

    def _engine_tenant_spec(self):
        """What the provisioning engine knows of this tenant (spec.py),
        frozen: a step reads it, never the record."""
        self.ensure_one()
        database_prefix, role_prefix = self._name_prefixes()
        return TenantSpec(
            code=self.code,
            name=self.name,
            state=self.state,
            database=self.database_name or "",
            db_role=self.db_role or "",
            runtime_role=self.runtime_role or "",
            analytics_schema=self.analytics_schema or "",
            database_prefix=database_prefix,
            role_prefix=role_prefix,
            url=self._public_url() or "",
            primary_domain=self.primary_domain or "",
            admin_email=self.admin_email or None,
            admin_name=self._admin_display_name(),
            company=CompanyValues(
                name=self.name,
                email=self.admin_email or None,
                country_code=self.country_id.code or None,
            ),
            plan_code=self.plan_id.code,
            plan_has_bi=bool(self.plan_id.feature_bi),
            cell=self.sudo().cell_id.code or cells.DEFAULT_CELL,
            modules=tuple(self._engine_module_set()),
            allowed_modules=tuple(with_tenant_side(self._allowed_module_names())),
            config_json=json.dumps(self._tenant_side_config()),
        )

    def _pg_server(self):
        """Where this tenant's database lives, as the engine connects to it."""
        self.ensure_one()
        server = self.server_id or self.env["ipai.tenant.server"]._default_server()
        if not server:
            raise PermanentError(
                f"Tenant {self.code} has no database server and none has room; nothing was changed."
            )
        return server._pg_server()

    def _queue_welcome_mail(self, reset_url):
        """Leave the welcome mail to the cron that makes it, in the
        transaction that makes the tenant active: the set-password link is
        kept encrypted until then (a one-time secret, which no group reads),
        and the cron is woken by the commit. Rendering the mail is off the
        signup's path; a crash after the commit loses nothing (the cron's
        interval finds the link), and a rollback leaves no link to mail."""
        self.ensure_one()
        self._store_secret(WELCOME_LINK, reset_url, one_time=True)
        self.env.ref("ipai_tenant_engine.ir_cron_send_welcome_mails").sudo()._trigger()

    @api.model
    def _cron_send_welcome_mails(self, limit=100):
        """Make the welcome mails whose links activations left, each
        committed on its own (woken by each activation; the interval catches
        a wake-up lost with a crash after the activation's commit)."""
        return self._send_welcome_mails(limit, commit=True)

    @api.model
    def _send_welcome_mails(self, limit=100, commit=False):
        """At most ``limit`` welcome mails, each made in the transaction that
        removes its link (locked, skipped by a second worker): one mail per
        link, whatever crashes when. A mail that cannot be made (a key
        changed, a template broken) keeps its link for the next run and
        holds up no other. Returns how many were made."""
        links = self.env["ipai.tenant.secret"].sudo()
        done, broken = 0, []
        while done + len(broken) < limit:
            link = links._lock_next(WELCOME_LINK, skip=broken)
            if not link:
                break
            try:
                with self.env.cr.savepoint():
                    link.tenant_id._make_welcome_mail(crypto.decrypt(link.token))
                    link.unlink()
            except Exception:  # one bad mail must not stop the others
                _logger.exception("welcome mail of tenant %s not made", link.tenant_id.code)
                broken.append(link.id)
                continue
            done += 1
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        remaining = links.search_count([("kind", "=", WELCOME_LINK), ("id", "not in", broken)])
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return done

    def _make_welcome_mail(self, reset_url):
        """The welcome mail in Odoo's mail queue (the mail cron sends it).

        The set-password link is a credential: the mail is attached to no
        record, so it never shows in the tenant's chatter, where platform
        and provider staff would read it, and it is deleted once sent
        (the template's auto_delete). Only the mail queue holds it until
        then, which only system administrators read."""
        self.ensure_one()
        template = self.env.ref("ipai_tenant_engine.mail_template_tenant_welcome")
        template.with_context(reset_url=reset_url, reset_valid_hours=WELCOME_LINK_HOURS).send_mail(
            self.id, email_values={"model": False, "res_id": False}
        )
        self._message_log(body=self.env._("Welcome mail queued for %s.", self.admin_email))

    def _tenant_side_config(self):
        """What the tenant database must know about itself (ipai_tenant_client)."""
        self.ensure_one()
        plan = self.plan_id
        return {
            "code": self.code,
            "name": self.name,
            "state": "suspended" if self.state == lifecycle.SUSPENDED else "active",
            "plan": plan.code,
            "plan_name": plan.name,
            "trial_end": fields.Date.to_string(self.trial_end) if self.trial_end else "",
            "limits": plan._limits(),
            "features": plan._features(),
        }

    def _warn_near_limits(self, metric):
        """Tell the tenant's followers once a day when it reaches 90 % of a
        plan limit; the warning also shows on the form."""
        self.ensure_one()
        near = metric._near_limits()
        warning = "; ".join(f"{used} of {limit:g} {what}" for what, used, limit in near)
        if warning and warning != self.usage_warning:
            self.message_post(
                body=self.env._(
                    "%(tenant)s is close to the limits of plan %(plan)s: %(warning)s.",
                    tenant=self.code,
                    plan=self.plan_id.name,
                    warning=warning,
                ),
                subtype_xmlid="mail.mt_note",
            )
        if warning != (self.usage_warning or ""):
            self.sudo().with_context(ipai_usage_sync=True).usage_warning = warning or False

    def _report_usage_tampering(self, finding):
        """Usage that cannot be counted truly is the platform's business:
        on the tenant's form, in its audit trail, and to its followers."""
        self.ensure_one()
        warning = self.env._("Usage could not be counted truly: %s", finding)
        if self.usage_warning != warning:
            self._audit("usage:tampering", {"finding": (False, finding)})
            self.message_post(body=warning, subtype_xmlid="mail.mt_note")
        self.sudo().with_context(ipai_usage_sync=True).usage_warning = warning

    # ------------------------------------------------------- schema docs

    def _introspect_schema(self):
        """The tenant database's schema, read as the tenant's own role. A
        read of catalogs only: no job, nothing changes, but the same reach
        as any action (the caller must be able to read the tenant)."""
        self.ensure_one()
        self.check_access("read")
        if self.state not in SERVED_STATES:
            raise UserError(
                self.env._(
                    "%(tenant)s has no database to document (it is %(state)s).",
                    tenant=self.code,
                    state=self.state,
                )
            )
        tenant = self.sudo()
        return introspect.read_schema(
            tenant._as_tenant_server(),
            tenant.database_name,
            title=tenant.code,
            documented_as=tenant._documented_database_name(),
        )

    def _as_tenant_server(self):
        """The tenant's database server as the tenant's own role: what
        reads inside the tenant database runs with its rights only."""
        self.ensure_one()
        tenant = self.sudo()
        return runtime_access.as_role(
            tenant._pg_server(), tenant.runtime_role, tenant.cell_id.code or None
        )

    def _schema_documents(self, formats=introspect.FORMATS):
        """{file name: text} of the schema in each of ``formats``."""
        schema = self._introspect_schema()
        return {
            f"{self.code}{introspect.FILE_SUFFIXES[fmt]}": introspect.render(schema, fmt)
            for fmt in formats
        }

    def action_download_schema(self):
        """DBML, Markdown and ERD JSON of the tenant's schema in one zip,
        attached to the tenant and downloaded."""
        self.ensure_one()
        documents = self._schema_documents()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in documents.items():
                archive.writestr(name, text)
        stamp = fields.Datetime.now().strftime("%Y%m%d-%H%M%S")
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": f"{self.code}-schema-{stamp}.zip",
                    "res_model": self._name,
                    "res_id": self.id,
                    "mimetype": "application/zip",
                    "datas": base64.b64encode(buffer.getvalue()),
                }
            )
        )
        self._audit("schema:documented", {"attachment": (False, attachment.name)})
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "self",
        }
