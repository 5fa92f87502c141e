from odoo.addons.ipai_tenant_core.tests.common import TenantCase
from odoo.exceptions import UserError


class TestTenantLifecycle(TenantCase):
    def make_active_tenant(self, code):
        """A tenant as the engine leaves it once its create job is done."""
        tenant = self.make_tenant(code)
        tenant.action_provision()
        tenant.job_ids.state = "done"
        tenant.state = "active"
        return tenant

    def test_provision_enqueues_a_job_and_does_not_pretend(self):
        tenant = self.make_tenant("acme")
        tenant.action_provision()
        self.assertEqual(tenant.state, "provisioning")
        job = tenant.job_ids
        self.assertEqual((job.job_type, job.state), ("create", "queued"))

    def test_second_open_job_is_refused(self):
        tenant = self.make_tenant("acme")
        tenant.action_provision()
        tenant.state = "active"
        with self.assertRaisesRegex(UserError, "already has an open job"):
            tenant.action_suspend()
        self.assertEqual(len(tenant.job_ids), 1)

    def test_forbidden_transitions_are_refused_and_change_nothing(self):
        tenant = self.make_tenant("acme")
        for target in ("active", "suspended", "failed"):
            with self.subTest(target=target), self.assertRaises(UserError):
                tenant.state = target
        self.assertEqual(tenant.state, "draft")
        tenant.action_archive_tenant()
        self.assertEqual(tenant.state, "archived")
        for target in ("draft", "provisioning", "active"):
            with self.subTest(target=target), self.assertRaises(UserError):
                tenant.state = target

    def test_buttons_are_guarded_by_state_on_the_server(self):
        tenant = self.make_tenant("acme")
        for action in ("action_suspend", "action_reactivate", "action_open_clone"):
            with self.subTest(action=action), self.assertRaises(UserError):
                getattr(tenant, action)()
        self.assertFalse(tenant.job_ids)
        self.assertEqual(tenant.state, "draft")

    def test_active_tenant_actions_enqueue(self):
        tenant = self.make_active_tenant("acme")
        tenant.action_suspend()
        self.assertEqual(tenant.job_ids.sorted("id")[-1].job_type, "suspend")
        # Still active: only the engine changes the state once the work is done.
        self.assertEqual(tenant.state, "active")

    def test_code_is_frozen_after_draft(self):
        tenant = self.make_tenant("acme")
        tenant.action_provision()
        with self.assertRaises(UserError):
            tenant.code = "other"
        self.assertEqual(tenant.code, "acme")

    def test_only_drafts_can_be_deleted(self):
        tenant = self.make_tenant("acme")
        tenant.action_provision()
        with self.assertRaises(UserError):
            tenant.unlink()
        draft = self.make_tenant("draft")
        draft.unlink()
        self.assertFalse(draft.exists())

    def test_change_plan_wizard(self):
        tenant = self.make_tenant("acme")
        wizard = self.env["ipai.tenant.change.plan"].create(
            {"tenant_id": tenant.id, "plan_id": self.plan_pro.id}
        )
        wizard.action_apply()
        self.assertEqual(tenant.plan_id, self.plan_pro)
        self.assertFalse(tenant.job_ids, "a draft has no database to update")

    def test_clone_wizard_creates_a_provisioning_tenant(self):
        source = self.make_active_tenant("acme")
        wizard = self.env["ipai.tenant.clone"].create(
            {"source_id": source.id, "code": "acme-copy", "name": "Acme copy", "with_data": True}
        )
        wizard.action_clone()
        clone = self.Tenant.search([("code", "=", "acme-copy")])
        self.assertEqual(clone.state, "provisioning")
        self.assertEqual(clone.job_ids.params, {"source_code": "acme", "with_data": True})

    def test_creation_and_jobs_are_recorded(self):
        tenant = self.make_tenant("acme")
        tenant.action_provision()
        actions = (
            self.env["ipai.audit.log"].search([("tenant_id", "=", tenant.id)]).mapped("action")
        )
        self.assertEqual(sorted(actions), ["create", "job:create", "write"])
