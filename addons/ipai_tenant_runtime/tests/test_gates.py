"""Plan limits and the module set as the tenant runtime enforces them on a
real database's records, with the plan read from a route."""

from odoo.addons.ipai_tenant_runtime import gates, module_gate
from odoo.addons.ipai_tenant_runtime.tests.common import route_row, runtime, tenant_runtime
from odoo.exceptions import UserError, ValidationError
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestPlanGates(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.internal = (
            cls.env["res.users"]
            .with_context(active_test=True)
            .search([("share", "=", False)])
            .filtered(lambda user: not user._is_superuser())
        )

    def _plan(self, **values):
        """The tenant runtime, with this database routed under ``values``."""
        row = route_row("gate.example.com", self.env.cr.dbname, plan_name="Small", **values)
        return tenant_runtime(row)

    def _new_user(self, login):
        return self.env["res.users"].create({"name": login, "login": login})

    def test_internal_users_beyond_the_plan_are_refused(self):
        limit = len(self.internal)
        with self._plan(max_users=limit):
            user = self._new_user("gate-over-limit")
            with self.assertRaisesRegex(ValidationError, rf"Small allows {limit} internal users"):
                gates._ipai_gate_user_limit(user)

    def test_portal_users_and_a_roomy_plan_pass(self):
        with self._plan(max_users=len(self.internal) + 1):
            gates._ipai_gate_user_limit(self._new_user("gate-within-limit"))
        portal = self.env.ref("base.group_portal")
        with self._plan(max_users=len(self.internal)):
            user = self.env["res.users"].create(
                {"name": "portal", "login": "gate-portal", "groups_id": [(6, 0, [portal.id])]}
            )
            self.assertTrue(user.share)
            gates._ipai_gate_user_limit(user)

    def test_companies_beyond_the_plan_are_refused(self):
        count = self.env["res.company"].search_count([])
        with self._plan(max_companies=count):
            company = self.env["res.company"].create({"name": "Gate Co"})
            with self.assertRaisesRegex(ValidationError, "companies"):
                gates._ipai_gate_company_limit(company)

    def test_nothing_is_gated_outside_the_tenant_runtime(self):
        with runtime(None):
            user = self._new_user("gate-ungated")
            gates._ipai_gate_user_limit(user)
            self.assertTrue(gates.feature_allowed(self.env, "bi"))
            self.assertEqual(gates.plan_name(self.env), "")

    def test_features_and_plan_name_come_from_the_route(self):
        with self._plan(feature_bi=False):
            self.assertFalse(gates.feature_allowed(self.env, "bi"))
            self.assertEqual(gates.plan_name(self.env), "Small")
        with self._plan(feature_bi=True):
            self.assertTrue(gates.feature_allowed(self.env, "bi"))

    def test_a_module_outside_the_plan_is_refused_with_its_name(self):
        Module = self.env["ir.module.module"]
        base_only = module_gate.closure(frozenset({"base"}))
        outside = Module.search(
            [("state", "=", "uninstalled"), ("name", "not in", sorted(base_only))], limit=1
        )
        self.assertTrue(outside, "a module this database has not installed")
        inside = Module.search([("name", "=", "base")])
        with self._plan(modules=["base"]):
            with self.assertRaisesRegex(UserError, "does not include"):
                gates._check_plan_modules(outside | inside)
            gates._check_plan_modules(inside)
        with self._plan(modules=[outside.name]):
            gates._check_plan_modules(outside)
