"""Append-only, hash-chained audit trail.

Each entry's hash covers its content and the previous entry's hash, so a
changed, removed or inserted row breaks the chain at that point and
``_verify_chain`` names it. The ORM refuses write and unlink to everyone,
superuser included; entries are only ever created through ``_record``.
"""

import hashlib
import json

from odoo import api, fields, models
from odoo.exceptions import UserError

GENESIS_HASH = "0" * 64


class IpaiAuditLog(models.Model):
    _name = "ipai.audit.log"
    _description = "Audit log entry"
    _order = "sequence desc"
    _rec_name = "action"

    sequence = fields.Integer(readonly=True, index=True)
    tenant_id = fields.Many2one("ipai.tenant", readonly=True, index=True, ondelete="set null")
    tenant_code = fields.Char(readonly=True, help="Kept when the tenant itself is gone.")
    user_id = fields.Many2one("res.users", readonly=True, ondelete="set null")
    user_login = fields.Char(readonly=True)
    action = fields.Char(readonly=True, required=True)
    changes = fields.Json(string="Changed values", readonly=True)
    changes_display = fields.Text(compute="_compute_changes_display", string="Changes")
    logged_at = fields.Datetime(readonly=True, required=True)
    previous_hash = fields.Char(readonly=True)
    entry_hash = fields.Char(readonly=True, index=True)

    _sql_constraints = [
        ("sequence_unique", "unique(sequence)", "Audit sequence numbers are unique."),
    ]

    @api.depends("changes")
    def _compute_changes_display(self):
        for entry in self:
            lines = [
                f"{field}: {before!r} -> {after!r}"
                for field, (before, after) in sorted((entry.changes or {}).items())
            ]
            entry.changes_display = "\n".join(lines)

    def init(self):
        # The chain head: one row every append locks and moves. Under Odoo's
        # REPEATABLE READ, a writer that raced another gets a serialization
        # failure on it and is retried (by Odoo's request loop or the job
        # runner), so the chain never forks.
        self.env.cr.execute(
            """CREATE TABLE IF NOT EXISTS ipai_audit_chain_head (
                   id integer PRIMARY KEY CHECK (id = 1),
                   last_sequence integer NOT NULL,
                   last_hash varchar NOT NULL)"""
        )
        # Starts at the last existing entry, if the table predates the head.
        self.env.cr.execute(
            """INSERT INTO ipai_audit_chain_head
               SELECT 1, coalesce(max(sequence), 0),
                      coalesce((SELECT entry_hash FROM ipai_audit_log
                                 ORDER BY sequence DESC LIMIT 1), %s)
                 FROM ipai_audit_log
               ON CONFLICT DO NOTHING""",
            [GENESIS_HASH],
        )

    @api.model
    def _record(self, tenant, action, changes):
        """Append one entry for ``tenant``; the only way entries are created."""
        self.env.cr.execute(
            "SELECT last_sequence, last_hash FROM ipai_audit_chain_head WHERE id = 1 FOR UPDATE"
        )
        last_sequence, previous_hash = self.env.cr.fetchone()
        sequence = last_sequence + 1
        values = {
            "sequence": sequence,
            "tenant_id": tenant.id,
            "tenant_code": tenant.code,
            "user_id": self.env.uid,
            "user_login": self.env.user.login,
            "action": action,
            "changes": changes,
            "logged_at": fields.Datetime.now(),
            "previous_hash": previous_hash,
        }
        values["entry_hash"] = self._hash(values)
        entry = self.sudo().with_context(ipai_audit_append=True).create(values)
        self.env.cr.execute(
            "UPDATE ipai_audit_chain_head SET last_sequence = %s, last_hash = %s WHERE id = 1",
            [sequence, values["entry_hash"]],
        )
        return entry

    @api.model
    def _hash(self, values):
        payload = json.dumps(
            [
                values["sequence"],
                values["tenant_code"],
                values["user_login"],
                values["action"],
                values["changes"],
                fields.Datetime.to_string(values["logged_at"]),
                values["previous_hash"],
            ],
            sort_keys=True,
            default=str,
            separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.context.get("ipai_audit_append"):
            raise UserError(self.env._("Audit entries are written by the platform only."))
        return super().create(vals_list)

    def write(self, vals):  # pylint: disable=method-required-super
        raise UserError(self.env._("The audit trail is append-only: entries cannot be changed."))

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(self.env._("The audit trail is append-only: entries cannot be deleted."))

    @api.model
    def _verify_chain(self):
        """Return the first entry whose link is broken, or an empty recordset."""
        self.env.cr.execute(
            """SELECT id, sequence, tenant_code, user_login, action, changes, logged_at,
                      previous_hash, entry_hash
                 FROM ipai_audit_log ORDER BY sequence"""
        )
        expected_previous, expected_sequence = GENESIS_HASH, 1
        for row in self.env.cr.dictfetchall():
            recomputed = self._hash(row)
            if (
                row["sequence"] != expected_sequence
                or row["previous_hash"] != expected_previous
                or row["entry_hash"] != recomputed
            ):
                return self.browse(row["id"])
            expected_previous, expected_sequence = row["entry_hash"], expected_sequence + 1
        return self.browse()

    @api.model
    def action_verify_chain(self):
        broken = self.sudo()._verify_chain()
        if broken:
            message = self.env._(
                "The audit trail is broken at entry #%(seq)s (%(action)s on %(tenant)s).",
                seq=broken.sequence,
                action=broken.action,
                tenant=broken.tenant_code,
            )
            kind = "danger"
        else:
            message = self.env._("The audit trail is intact.")
            kind = "success"
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": message, "type": kind, "sticky": kind == "danger"},
        }
