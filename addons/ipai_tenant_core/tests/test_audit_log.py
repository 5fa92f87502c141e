import hashlib

import psycopg2
from odoo.api import call_kw
from odoo.exceptions import UserError
from odoo.tests import new_test_user
from odoo.tools import mute_logger

from .common import TenantCase


class TestAuditLog(TenantCase):
    def test_changes_are_recorded_with_before_and_after(self):
        tenant = self.make_tenant("acme")
        tenant.with_user(self.manager).name = "Acme Renamed"
        entry = self.env["ipai.audit.log"].search([("tenant_id", "=", tenant.id)], limit=1)
        self.assertEqual(entry.action, "write")
        self.assertEqual(entry.user_login, "platform_manager")
        self.assertEqual(entry.changes, {"name": ["Acme", "Acme Renamed"]})

    def test_entries_cannot_be_changed_or_deleted_even_by_superuser(self):
        self.make_tenant("acme")
        entry = self.env["ipai.audit.log"].sudo().search([], limit=1)
        with self.assertRaises(UserError):
            entry.write({"action": "forged"})
        with self.assertRaises(UserError):
            entry.unlink()
        with self.assertRaises(UserError):
            self.env["ipai.audit.log"].sudo().create(
                {"action": "forged", "logged_at": "2026-01-01"}
            )
        self.assertNotEqual(entry.action, "forged")

    def _as_database_superuser(self, statement, params=None):
        """What a database superuser can do: switch the trigger off first."""
        self.env.cr.execute("ALTER TABLE ipai_audit_log DISABLE TRIGGER USER")
        self.env.cr.execute(statement, params)
        self.env.cr.execute("ALTER TABLE ipai_audit_log ENABLE TRIGGER USER")

    def test_postgresql_refuses_update_delete_and_truncate(self):
        self.make_tenant("acme")
        entry = self.env["ipai.audit.log"].search([], limit=1)
        for statement in (
            "UPDATE ipai_audit_log SET action = 'forged'",
            "DELETE FROM ipai_audit_log",
            "TRUNCATE ipai_audit_log CASCADE",
        ):
            with (
                self.subTest(statement),
                mute_logger("odoo.sql_db"),
                self.assertRaises(psycopg2.errors.InsufficientPrivilege),
                self.env.cr.savepoint(),
            ):
                self.env.cr.execute(statement)
        self.env.invalidate_all()
        self.assertEqual(entry.action, "create")

    def test_a_deleted_tenant_keeps_its_entries(self):
        tenant = self.make_tenant("acme")
        tenant.unlink()
        entries = self.env["ipai.audit.log"].search([("tenant_code", "=", "acme")])
        self.assertEqual(sorted(entries.mapped("action")), ["create", "unlink"])
        self.assertFalse(entries.tenant_id)
        self.assertIsNone(self.env["ipai.audit.log"]._verify_chain())

    def test_chain_is_intact_and_detects_tampering(self):
        AuditLog = self.env["ipai.audit.log"]
        tenant = self.make_tenant("acme")
        tenant.name = "Acme 2"
        tenant.name = "Acme 3"
        self.assertIsNone(AuditLog._verify_chain())
        middle = AuditLog.search([("tenant_id", "=", tenant.id)], order="sequence")[1]
        self._as_database_superuser(
            "UPDATE ipai_audit_log SET changes = %s WHERE id = %s",
            ['{"name": ["Acme", "Forged"]}', middle.id],
        )
        self.assertEqual(AuditLog._verify_chain(), (middle.sequence, "was changed"))
        notification = AuditLog.action_verify_chain()
        self.assertIn(f"#{middle.sequence}", notification["params"]["message"])

    def test_the_verify_chain_button_answers_a_platform_manager(self):
        """*Audit trail > Verify chain*: the list's header button, called as
        the web client calls it (call_button: the selected ids, often none,
        as the first argument)."""
        tenant = self.make_tenant("acme")
        tenant.name = "Acme 2"
        AuditLog = self.env["ipai.audit.log"].with_user(self.manager)
        for selected in ([], AuditLog.search([], limit=2).ids):
            with self.subTest(selected=selected):
                notification = call_kw(AuditLog, "action_verify_chain", [selected], {})
                self.assertEqual(notification["tag"], "display_notification")
                self.assertEqual(notification["params"]["message"], "The audit trail is intact.")
        # Anyone else is refused with a message, not a crash.
        outsider = new_test_user(self.env, login="outsider", groups="base.group_user")
        with self.assertRaises(UserError):
            call_kw(self.env["ipai.audit.log"].with_user(outsider), "action_verify_chain", [[]], {})

    def test_a_row_rewritten_with_a_recomputed_hash_is_detected(self):
        """Without the key, a forger can only recompute plain hashes."""
        AuditLog = self.env["ipai.audit.log"]
        tenant = self.make_tenant("acme")
        tenant.name = "Acme 2"
        last = AuditLog.search([("tenant_id", "=", tenant.id)], order="sequence desc", limit=1)
        forged = {**last.read(["changes"])[0], "changes": {"name": ["Acme", "Forged"]}}
        plain = hashlib.sha256(repr(forged).encode()).hexdigest()
        self._as_database_superuser(
            "UPDATE ipai_audit_log SET changes = %s, entry_hash = %s WHERE id = %s",
            ['{"name": ["Acme", "Forged"]}', plain, last.id],
        )
        self.env.cr.execute("UPDATE ipai_audit_chain_head SET last_hash = %s WHERE id = 1", [plain])
        self.assertEqual(AuditLog._verify_chain(), (last.sequence, "was changed"))

    def test_removed_entry_breaks_the_chain(self):
        AuditLog = self.env["ipai.audit.log"]
        tenant = self.make_tenant("acme")
        tenant.name = "Acme 2"
        tenant.name = "Acme 3"
        first, second, _third = AuditLog.search([("tenant_id", "=", tenant.id)], order="sequence")
        self._as_database_superuser("DELETE FROM ipai_audit_log WHERE id = %s", [second.id])
        self.assertEqual(AuditLog._verify_chain(), (second.sequence, "missing"))
        self.assertTrue(first.exists())

    def test_configuration_changes_are_recorded(self):
        AuditLog = self.env["ipai.audit.log"]
        self.plan_trial.with_user(self.manager).max_users = 7
        self.env["ipai.tenant.server"].create({"name": "Second server", "host": "db2.internal"})
        self.env["ir.config_parameter"].set_param("ipai_tenant_core.base_domain", "saas.test")
        tenant = self.make_tenant("acme")
        self.env["ipai.tenant.assignment"].create(
            {"user_id": self.manager.id, "tenant_id": tenant.id, "role": "viewer"}
        )
        plan_entry = AuditLog.search([("action", "=", "plan:write")], limit=1)
        self.assertEqual(plan_entry.changes["max_users"], [3, 7])
        self.assertEqual(plan_entry.user_login, "platform_manager")
        param_entry = AuditLog.search(
            [("action", "=", "param:ipai_tenant_core.base_domain")], limit=1
        )
        self.assertEqual(param_entry.changes["value"][1], "saas.test")
        self.assertTrue(AuditLog.search([("action", "=", "server:create")]))
        assignment = AuditLog.search([("action", "=", "assignment:create")])
        self.assertEqual(assignment.tenant_id, tenant)
        self.assertIsNone(AuditLog._verify_chain())
