"""Append-only, keyed hash chain: a tamper-evident audit trail.

- Each entry's hash is an HMAC (key outside the database: audit_head) of its
  content and the previous entry's hash: a changed, removed or inserted row
  breaks the chain, and one rewritten with a recomputed hash is still caught,
  since whoever rewrites the database does not hold the key.
- PostgreSQL itself refuses UPDATE, DELETE and TRUNCATE (a trigger); only
  the links to a deleted tenant or user may be cleared.
- The newest entry is also recorded outside the database (audit_head), so
  deleting the newest entries is caught too.
- The ORM refuses write and unlink to everyone, superuser included; entries
  are only ever created through ``_record``. ``make verify-audit`` checks.
"""

import hashlib
import json
import logging

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..infra import audit_head

_logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
# What a transaction's commit writes to the recorded head (cursor.postcommit.data).
HEAD_KEY = "ipai_audit_head"
KEYED_SCHEME = "hmac-sha256"


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
        self.env.cr.execute(
            "ALTER TABLE ipai_audit_chain_head ADD COLUMN IF NOT EXISTS scheme varchar"
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
        self._reseal_unkeyed_chain()
        # Append-only in PostgreSQL itself, whatever connects: only the links
        # to a deleted tenant or user (not part of the hash) may be cleared.
        self.env.cr.execute(
            """CREATE OR REPLACE FUNCTION ipai_audit_log_append_only() RETURNS trigger
               LANGUAGE plpgsql AS $$
               BEGIN
                   IF TG_OP = 'UPDATE'
                      AND (NEW.tenant_id IS NULL OR NEW.tenant_id = OLD.tenant_id)
                      AND (NEW.user_id IS NULL OR NEW.user_id = OLD.user_id)
                      AND (NEW.sequence, NEW.tenant_code, NEW.user_login, NEW.action,
                           NEW.changes::text, NEW.logged_at, NEW.previous_hash,
                           NEW.entry_hash)
                          IS NOT DISTINCT FROM
                          (OLD.sequence, OLD.tenant_code, OLD.user_login, OLD.action,
                           OLD.changes::text, OLD.logged_at, OLD.previous_hash,
                           OLD.entry_hash)
                   THEN
                       RETURN NEW;
                   END IF;
                   RAISE EXCEPTION 'the audit trail is append-only (% refused)', TG_OP
                       USING ERRCODE = 'insufficient_privilege';
               END $$"""
        )
        self.env.cr.execute(
            """DROP TRIGGER IF EXISTS ipai_audit_log_append_only ON ipai_audit_log;
               CREATE TRIGGER ipai_audit_log_append_only
                   BEFORE UPDATE OR DELETE ON ipai_audit_log
                   FOR EACH ROW EXECUTE FUNCTION ipai_audit_log_append_only();
               DROP TRIGGER IF EXISTS ipai_audit_log_no_truncate ON ipai_audit_log;
               CREATE TRIGGER ipai_audit_log_no_truncate
                   BEFORE TRUNCATE ON ipai_audit_log
                   FOR EACH STATEMENT EXECUTE FUNCTION ipai_audit_log_append_only();"""
        )

    def _reseal_unkeyed_chain(self):
        """Entries made before the chain was keyed get keyed hashes, once, as
        the platform upgrades (before the append-only trigger exists)."""
        self.env.cr.execute("SELECT scheme FROM ipai_audit_chain_head WHERE id = 1")
        if self.env.cr.fetchone()[0] == KEYED_SCHEME:
            return
        self.env.cr.execute(
            """DROP TRIGGER IF EXISTS ipai_audit_log_append_only ON ipai_audit_log;
               DROP TRIGGER IF EXISTS ipai_audit_log_no_truncate ON ipai_audit_log"""
        )
        rows = self._rows()
        # Only an intact unkeyed chain is resealed: a broken one stays broken
        # (and make verify-audit says where).
        previous = GENESIS_HASH
        for row in rows:
            unkeyed = hashlib.sha256(self._payload(row).encode()).hexdigest()
            if row["previous_hash"] != previous or row["entry_hash"] != unkeyed:
                _logger.error("audit trail broken at entry #%s: not resealed", row["sequence"])
                return
            previous = row["entry_hash"]
        previous = GENESIS_HASH
        for row in rows:
            row["previous_hash"] = previous
            previous = self._hash(row)
            self.env.cr.execute(
                "UPDATE ipai_audit_log SET previous_hash = %s, entry_hash = %s WHERE id = %s",
                [row["previous_hash"], previous, row["id"]],
            )
        self.env.cr.execute(
            "UPDATE ipai_audit_chain_head SET last_hash = %s, scheme = %s WHERE id = 1",
            [previous, KEYED_SCHEME],
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
        # Outside the database too, once this transaction is committed: the
        # head is the newest entry, so one write per transaction however
        # many entries it appended (a signup's request appends three).
        postcommit = self.env.cr.postcommit
        if HEAD_KEY not in postcommit.data:
            postcommit.add(lambda: audit_head.advance(*postcommit.data[HEAD_KEY]))
        postcommit.data[HEAD_KEY] = (self.env.cr.dbname, sequence, values["entry_hash"])
        return entry

    @api.model
    def _hash(self, values):
        return audit_head.keyed_hash(self._payload(values))

    @api.model
    def _payload(self, values):
        return json.dumps(
            [
                values["sequence"],
                # Entries about no tenant (a plan, a parameter) store NULL.
                values["tenant_code"] or None,
                values["user_login"] or None,
                values["action"],
                values["changes"],
                fields.Datetime.to_string(values["logged_at"]),
                values["previous_hash"],
            ],
            sort_keys=True,
            default=str,
            separators=(",", ":"),
        )

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

    def _rows(self):
        self.env.cr.execute(
            """SELECT id, sequence, tenant_code, user_login, action, changes, logged_at,
                      previous_hash, entry_hash
                 FROM ipai_audit_log ORDER BY sequence"""
        )
        return self.env.cr.dictfetchall()

    @api.model
    def _verify_chain(self):
        """The first problem of the chain as (entry sequence, reason), or None."""
        expected_previous, expected_sequence = GENESIS_HASH, 1
        hashes = {}
        for row in self._rows():
            if row["sequence"] != expected_sequence:
                return expected_sequence, "missing"
            if row["previous_hash"] != expected_previous:
                return row["sequence"], "does not follow the entry before it"
            if row["entry_hash"] != self._hash(row):
                return row["sequence"], "was changed"
            hashes[row["sequence"]] = row["entry_hash"]
            expected_previous, expected_sequence = row["entry_hash"], expected_sequence + 1
        head = audit_head.read(self.env.cr.dbname)
        if head is None:
            return None
        if head["invalid"]:
            return head["sequence"], "the recorded head itself was altered"
        if head["sequence"] >= expected_sequence:
            return expected_sequence, "missing (the newest entries were deleted)"
        if hashes.get(head["sequence"]) != head["hash"]:
            return head["sequence"], "differs from the recorded head"
        return None

    @api.model
    def _verify_chain_message(self):
        problem = self._verify_chain()
        if problem is None:
            return None
        sequence, reason = problem
        return self.env._("Audit entry #%(seq)s %(reason)s.", seq=sequence, reason=reason)

    def action_verify_chain(self):
        # A record method, not @api.model: the list's header button sends the
        # selected ids (often none), which call_kw passes to a model method
        # as an extra argument. The whole chain is verified either way.
        # Platform staff only: the chain spans every provider's tenants.
        if not self.env.user.has_group("ipai_tenant_core.group_platform_user"):
            raise UserError(self.env._("Only platform staff can verify the audit trail."))
        message = self.sudo()._verify_chain_message()
        if message:
            kind = "danger"
        else:
            message = self.env._("The audit trail is intact.")
            kind = "success"
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": message, "type": kind, "sticky": kind == "danger"},
        }
