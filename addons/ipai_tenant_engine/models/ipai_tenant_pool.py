"""Warm pool members: ready databases waiting for a signup (provisioning/pool.py).

Members are platform resources, not tenants: never routed (the routing view
lists ready ones without a host name, so a runtime may preload them), never
listed with tenants, never billed. Made by the refill cron per plan
(``pool_size`` on the plan form), claimed by a create job in one short
transaction, retired when their template is no longer the current one for
their plan's modules (an addon changed), or when their build was
interrupted.
"""

import logging
import secrets
from datetime import timedelta

import psycopg2
from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import naming
from odoo.addons.ipai_platform_rules.tenant_side import with_tenant_side
from odoo.addons.ipai_tenant_core.infra import crypto, pg

from ..provisioning import pool, runner, templates
from ..provisioning.pool import BUILDING, CLAIMED, READY, STALE
from ..provisioning.spec import PoolMemberSpec

_logger = logging.getLogger(__name__)

MEMBER_STATES = [
    (BUILDING, "Building"),
    (READY, "Ready"),
    (CLAIMED, "Claimed"),
    (STALE, "Stale"),
]
# A member still building after this long was interrupted (worker killed,
# database restarted): the refill removes it. A build takes about a second.
BUILD_ABANDONED_AFTER = timedelta(minutes=10)
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
    state = fields.Selection(MEMBER_STATES, default=BUILDING, required=True, index=True)
    admin_token = fields.Char(
        groups="base.group_system", help="Fernet token of the administrator's password."
    )
    bi_token = fields.Char(groups="base.group_system", help="Fernet token of the BI password.")
    tenant_id = fields.Many2one("ipai.tenant", readonly=True, ondelete="set null")
    # The warm pool is the default cell's: its roles have that cell's
    # passwords and its nodes preload the members; a tenant of another cell
    # re-keys the member it adopts (operations._rekey_for_cell).
    cell_id = fields.Many2one(
        "ipai.tenant.cell",
        readonly=True,
        ondelete="restrict",
        default=lambda self: self.env["ipai.tenant.cell"]._default_cell(),
    )
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
                WHERE state = %s AND template_key = %s AND server_id = %s
                ORDER BY id LIMIT 1
                FOR UPDATE SKIP LOCKED""",
            [READY, template_key, server.id],
        )
        row = self.env.cr.fetchone()
        if not row:
            return self.browse()
        member = self.sudo().browse(row[0])
        member.write({"state": CLAIMED, "tenant_id": tenant.id})
        # Refill soon, without waking the cron workers from the signup's
        # request (a NOTIFY on a new connection): they see the trigger at
        # their next turn.
        self.env["ir.cron.trigger"].sudo().create(
            {
                "cron_id": self.env.ref("ipai_tenant_engine.ir_cron_refill_pool").id,
                "call_at": fields.Datetime.now(),
            }
        )
        return member

    def _engine_spec(self, tenant):
        """What the engine knows of this member, for ``tenant``'s job."""
        self.ensure_one()
        member = self.sudo()
        return PoolMemberSpec(
            id=member.id,
            database=member.database_name,
            role=member.role_name,
            bi_role=member.bi_role_name,
            state=member.state,
            mine=member.tenant_id == tenant,
            admin_token=member.admin_token or None,
            bi_token=member.bi_token or None,
        )

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
    def _cron_refill_pool(self, limit=REFILL_BATCH):
        """Retire stale and abandoned members, then top each plan's pool up
        to its size; at most ``limit`` of each per call."""
        retired = self._retire(limit)
        built = 0
        for plan in self.env["ipai.tenant.plan"].search([("pool_size", ">", 0)]):
            built += self._refill(plan, limit - built)
            if built >= limit:
                break
        remaining = self._missing_count() + self.search_count([("state", "=", STALE)])
        self.env["ir.cron"]._notify_progress(done=retired + built, remaining=remaining)
        return built

    def _current_key(self, plan):
        return templates.current_template_key(with_tenant_side(plan._module_names()))

    def _missing_count(self):
        missing = 0
        for plan in self.env["ipai.tenant.plan"].search([("pool_size", ">", 0)]):
            have = self.search_count(
                [("plan_id", "=", plan.id), ("state", "in", (BUILDING, READY))]
            )
            missing += max(plan.pool_size - have, 0)
        return missing

    def _retire(self, limit):
        """Drop, with their roles and files: members whose template is not
        their plan's current one (an addon or the plan's modules changed),
        members of a plan that keeps fewer (or none), and builds that were
        interrupted. Each is taken under a row lock and checked again: a
        signup claiming it meanwhile keeps it."""
        retired = 0
        abandoned_before = fields.Datetime.now() - BUILD_ABANDONED_AFTER
        for member in self.search([("state", "in", (READY, STALE, BUILDING))]):
            if retired >= limit:
                break
            if member.state == BUILDING:
                retire = member.write_date < abandoned_before
            else:
                retire = member.state == STALE or not member._wanted()
            if retire and member._lock_for_retirement():
                _logger.info("warm pool: retiring %s (%s)", member.database_name, member.state)
                member._remove()
                runner.checkpoint(self.env.cr)
                retired += 1
        return retired

    def _wanted(self):
        """Whether this ready member is current and within its plan's size
        (the oldest ones are kept)."""
        plan = self.plan_id
        if not plan.active or self.template_key != self._current_key(plan):
            return False
        kept = self.search([("plan_id", "=", plan.id), ("state", "=", READY)], limit=plan.pool_size)
        return plan.pool_size > 0 and self in kept

    def _lock_for_retirement(self):
        """Mark this member stale under its row lock, if it is still not
        claimed; committed, so no signup can take it from now on."""
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    """SELECT id FROM ipai_tenant_pool_member
                        WHERE id = %s AND state IN %s FOR UPDATE SKIP LOCKED""",
                    [self.id, (READY, STALE, BUILDING)],
                )
                row = self.env.cr.fetchone()
        except psycopg2.errors.SerializationFailure:
            row = None  # changed since this transaction began: claimed
        if not row:
            return False  # claimed meanwhile (locked, or no longer ready)
        self.state = STALE
        runner.checkpoint(self.env.cr)
        return True

    def _refill(self, plan, limit):
        have = self.search_count([("plan_id", "=", plan.id), ("state", "in", (BUILDING, READY))])
        built = 0
        for _index in range(min(plan.pool_size - have, limit)):
            member = self._start_member(plan)
            if not member:
                break
            runner.checkpoint(self.env.cr)
            try:
                member._build()
            except Exception:
                _logger.warning(
                    "warm pool: building %s failed", member.database_name, exc_info=True
                )
                self.env.cr.rollback()
                member._remove()
                runner.checkpoint(self.env.cr)
                break
            runner.checkpoint(self.env.cr)
            built += 1
        return built

    def _start_member(self, plan):
        """A member record on a server with room where the plan's template
        is built (the pool never builds templates: the first signup of a plan
        on a server does)."""
        key = self._current_key(plan)
        template = self.env["ipai.tenant.template"].search(
            [("key", "=", key), ("state", "=", "ready")], limit=1
        )
        if not template:
            return self.browse()
        ready_mark = pg.owner_mark(templates.ready_mark(template.database_name))
        servers = self.env["ipai.tenant.server"].search([], limit=1000)
        with_template = servers.filtered(
            lambda server: server._has_database_marked(template.database_name, ready_mark)
        )
        server = with_template._default_server_among()
        if not server:
            return self.browse()
        database_prefix, role_prefix = self.env["ipai.tenant"]._name_prefixes()
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
                "state": READY,
                "admin_token": crypto.encrypt(admin_password),
                "bi_token": crypto.encrypt(bi_password),
                "date_ready": fields.Datetime.now(),
            }
        )
        self.env["ipai.tenant"]._bump_routing_version()  # runtimes may preload it

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
                    "ready": len(current.filtered(lambda m: m.state == READY)),
                    "building": len(current.filtered(lambda m: m.state == BUILDING)),
                    "stale": len(members - current)
                    + len(current.filtered(lambda m: m.state == STALE)),
                }
            )
        return rows
