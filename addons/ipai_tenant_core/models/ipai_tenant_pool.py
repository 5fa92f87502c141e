"""Warm pool members: ready databases waiting for a signup (provisioning/pool.py).

Members are platform resources, not tenants: never routed (the routing view
reads tenants only), never listed with tenants, never billed. Made by the
refill cron per plan (``pool_size`` on the plan form), claimed by a create
job in one short transaction, retired when their template is no longer the
current one for their plan's modules (an addon changed).
"""

import logging
import secrets

from odoo import api, fields, models, modules

from ..provisioning import crypto, pool, templates
from ..provisioning.errors import PermanentError
from . import ipai_tenant_naming as naming

_logger = logging.getLogger(__name__)

MEMBER_STATES = [
    ("building", "Building"),
    ("ready", "Ready"),
    ("claimed", "Claimed"),
    ("stale", "Stale"),
]
# Refill and retire at most this many members per cron call, so a call stays
# short; the cron reports what is left and Odoo calls it again at once.
REFILL_BATCH = 5


class IpaiTenantPoolMember(models.Model):
    _name = "ipai.tenant.pool.member"
    _description = "Warm pool member (a ready tenant database)"
    _order = "id"
    _rec_name = "database_name"

    plan_id = fields.Many2one("ipai.tenant.plan", required=True, ondelete="cascade", index=True)
    template_id = fields.Many2one("ipai.tenant.template", required=True, ondelete="cascade")
    template_key = fields.Char(required=True, index=True, help="Its module set and their code.")
    server_id = fields.Many2one("ipai.tenant.server", required=True, ondelete="restrict")
    database_name = fields.Char(required=True)
    role_name = fields.Char(required=True, help="Owner of its objects; kept by its tenant.")
    bi_role_name = fields.Char(required=True, help="Its read-only BI role; kept by its tenant.")
    state = fields.Selection(MEMBER_STATES, default="building", required=True, index=True)
    admin_token = fields.Char(
        groups="base.group_system", help="Fernet token of the administrator's password."
    )
    bi_token = fields.Char(groups="base.group_system", help="Fernet token of the BI password.")
    tenant_id = fields.Many2one("ipai.tenant", readonly=True, ondelete="set null")
    date_ready = fields.Datetime(readonly=True)

    _sql_constraints = [
        ("database_unique", "unique(database_name)", "One member per database."),
    ]

    # ------------------------------------------------------------- claim

    @api.model
    def _claim_for(self, tenant, template_key, server):
        """One ready member for ``tenant`` (its module set, on ``server``),
        taken in the caller's transaction; concurrent signups skip each
        other's rows. An empty recordset when the pool is dry."""
        self.env.cr.execute(
            """SELECT id FROM ipai_tenant_pool_member
                WHERE state = 'ready' AND template_key = %s AND server_id = %s
                ORDER BY id LIMIT 1
                FOR UPDATE SKIP LOCKED""",
            [template_key, server.id],
        )
        row = self.env.cr.fetchone()
        if not row:
            return self.browse()
        member = self.sudo().browse(row[0])
        member.write({"state": "claimed", "tenant_id": tenant.id})
        # Refill soon, without waking the cron workers from the signup's
        # request (a NOTIFY on a new connection): they see the trigger at
        # their next turn.
        self.env["ir.cron.trigger"].sudo().create(
            {
                "cron_id": self.env.ref("ipai_tenant_core.ir_cron_refill_pool").id,
                "call_at": fields.Datetime.now(),
            }
        )
        return member

    def _take_passwords(self):
        """The administrator's and the BI role's passwords, for the tenant."""
        self.ensure_one()
        member = self.sudo()
        if not (member.admin_token and member.bi_token):
            raise PermanentError(f"Pool member {self.database_name} has no passwords.")
        passwords = crypto.decrypt(member.admin_token), crypto.decrypt(member.bi_token)
        member.write({"admin_token": False, "bi_token": False})
        return passwords

    def _remove(self):
        """Drop the member's database, roles and files, then the record."""
        for member in self:
            pool.remove(
                member.server_id._pg_server(),
                member.database_name,
                member.role_name,
                member.bi_role_name,
            )
            member.unlink()

    # ------------------------------------------------------------ refill

    @api.model
    def _cron_refill_pool(self):
        """Retire stale members, then top each plan's pool up to its size."""
        retired = self._retire_stale(REFILL_BATCH)
        built = 0
        for plan in self.env["ipai.tenant.plan"].search([("pool_size", ">", 0)]):
            built += self._refill(plan, REFILL_BATCH - built)
            if built >= REFILL_BATCH:
                break
        remaining = self._missing_count() + self.search_count([("state", "=", "stale")])
        self.env["ir.cron"]._notify_progress(done=retired + built, remaining=remaining)
        return built

    def _current_key(self, plan):
        from ..provisioning.operations import TENANT_SIDE_MODULES

        return templates.current_template_key(set(plan._module_names()) | set(TENANT_SIDE_MODULES))

    def _missing_count(self):
        missing = 0
        for plan in self.env["ipai.tenant.plan"].search([("pool_size", ">", 0)]):
            have = self.search_count(
                [("plan_id", "=", plan.id), ("state", "in", ("building", "ready"))]
            )
            missing += max(plan.pool_size - have, 0)
        return missing

    def _retire_stale(self, limit):
        """Members whose template is not their plan's current one (an addon
        or the plan's modules changed), or whose plan no longer keeps a pool,
        are dropped with their role and files."""
        retired = 0
        for member in self.search([("state", "in", ("ready", "stale"))]):
            plan = member.plan_id
            if plan.active and member.template_key == self._current_key(plan):
                continue
            if retired >= limit:
                break
            member.state = "stale"
            self._commit()
            _logger.info("warm pool: retiring stale member %s", member.database_name)
            member._remove()
            self._commit()
            retired += 1
        # Too many members for a plan whose pool shrank: drop the surplus.
        ready_plans = self.search([("state", "=", "ready")]).plan_id
        for plan in ready_plans:
            ready = self.search([("plan_id", "=", plan.id), ("state", "=", "ready")])
            for member in ready[plan.pool_size if plan.active else 0 :]:
                if retired >= limit:
                    break
                member._remove()
                self._commit()
                retired += 1
        return retired

    def _refill(self, plan, limit):
        have = self.search_count(
            [("plan_id", "=", plan.id), ("state", "in", ("building", "ready"))]
        )
        built = 0
        for _index in range(min(plan.pool_size - have, limit)):
            member = self._start_member(plan)
            if not member:
                break
            self._commit()
            try:
                member._build()
            except Exception:
                _logger.warning(
                    "warm pool: building %s failed", member.database_name, exc_info=True
                )
                self.env.cr.rollback()
                member._remove()
                self._commit()
                break
            self._commit()
            built += 1
        return built

    def _start_member(self, plan):
        """A member record on a server with room, on a ready template (the
        pool never builds templates: the first signup of a plan does)."""
        tenants = self.env["ipai.tenant"]
        key = self._current_key(plan)
        template = self.env["ipai.tenant.template"].search(
            [("key", "=", key), ("state", "=", "ready")], limit=1
        )
        server = self.env["ipai.tenant.server"]._default_server()
        if not template or not server:
            return self.browse()
        database_prefix, role_prefix = tenants._name_prefixes()
        token = secrets.token_hex(6)
        return self.create(
            {
                "plan_id": plan.id,
                "template_id": template.id,
                "template_key": key,
                "server_id": server.id,
                "database_name": naming.pool_database_name(token, database_prefix),
                "role_name": naming.pool_role_name(token, role_prefix),
                "bi_role_name": naming.pool_bi_role_name(token, role_prefix),
            }
        )

    def _build(self):
        self.ensure_one()
        role_prefix = self.env["ipai.tenant"]._name_prefixes()[1]
        admin_password, bi_password = pool.build(
            self.server_id._pg_server(),
            self.template_id.database_name,
            self.database_name,
            self.role_name,
            self.bi_role_name,
            naming.template_owner_role(role_prefix),
            lambda line: _logger.info("warm pool: %s", line),
        )
        self.sudo().write(
            {
                "state": "ready",
                "admin_token": crypto.encrypt(admin_password),
                "bi_token": crypto.encrypt(bi_password),
                "date_ready": fields.Datetime.now(),
            }
        )
        self.env["ipai.tenant"]._bump_routing_version()  # runtimes may preload it

    def _commit(self):
        if not modules.module.current_test:
            self.env.cr.commit()  # pylint: disable=invalid-commit

    # ------------------------------------------------------------ report

    @api.model
    def _status(self):
        """Rows of (plan code, module-set key, wanted, ready, building, stale)."""
        rows = []
        every_member = self.search([("state", "in", [state for state, _label in MEMBER_STATES])])
        plans = self.env["ipai.tenant.plan"].search([("pool_size", ">", 0)]) | every_member.plan_id
        for plan in plans:
            members = self.search([("plan_id", "=", plan.id)])
            key = self._current_key(plan) if plan.active else "-"
            current = members.filtered(lambda m, key=key: m.template_key == key)
            rows.append(
                {
                    "plan": plan.code,
                    "key": key,
                    "wanted": plan.pool_size if plan.active else 0,
                    "ready": len(current.filtered(lambda m: m.state == "ready")),
                    "building": len(current.filtered(lambda m: m.state == "building")),
                    "stale": len(members - current)
                    + len(current.filtered(lambda m: m.state == "stale")),
                }
            )
        return rows

    def _check_claimable(self, tenant):
        if self.tenant_id != tenant or self.state != "claimed":
            raise PermanentError(
                f"Pool member {self.database_name} is not claimed by {tenant.code}."
            )
