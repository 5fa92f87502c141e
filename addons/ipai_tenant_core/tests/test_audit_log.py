from odoo.exceptions import UserError

from .common import TenantCase


class TestAuditLog(TenantCase):
    def test_changes_are_recorded_with_before_and_after(self):
        tenant = self.make_tenant("acme")
        tenant.with_user(self.manager).name = "Acme Renamed"
        entry = self.env["ipai.audit.log"].search([("tenant_id", "=", tenant.id)], limit=1)
        self.assertEqual(entry.action, "write")
        self.assertEqual(entry.user_login, "platform_manager")
        self.assertEqual(entry.changes, {"name": ["Acme", "Acme Renamed"]})

    def test_creation_and_jobs_are_recorded(self):
        tenant = self.make_tenant("acme")
        tenant.action_provision()
        actions = (
            self.env["ipai.audit.log"].search([("tenant_id", "=", tenant.id)]).mapped("action")
        )
        self.assertEqual(sorted(actions), ["create", "job:create", "write"])

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

    def test_chain_is_intact_and_detects_tampering(self):
        AuditLog = self.env["ipai.audit.log"]
        tenant = self.make_tenant("acme")
        tenant.name = "Acme 2"
        tenant.name = "Acme 3"
        self.assertFalse(AuditLog._verify_chain())
        middle = AuditLog.search([("tenant_id", "=", tenant.id)], order="sequence")[1]
        self.env.cr.execute(
            "UPDATE ipai_audit_log SET changes = %s WHERE id = %s",
            ['{"name": ["Acme", "Forged"]}', middle.id],
        )
        self.assertEqual(AuditLog._verify_chain(), middle)
        notification = AuditLog.action_verify_chain()
        self.assertIn(f"#{middle.sequence}", notification["params"]["message"])

    def test_removed_entry_breaks_the_chain(self):
        AuditLog = self.env["ipai.audit.log"]
        tenant = self.make_tenant("acme")
        tenant.name = "Acme 2"
        tenant.name = "Acme 3"
        first, second, third = AuditLog.search([("tenant_id", "=", tenant.id)], order="sequence")
        self.env.cr.execute("DELETE FROM ipai_audit_log WHERE id = %s", [second.id])
        self.assertEqual(AuditLog._verify_chain(), third)
        self.assertTrue(first.exists())
