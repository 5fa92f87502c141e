"""Plan limits and the module set as the tenant runtime enforces them on a
real database's records, with the plan read from a route."""

from email.utils import parseaddr

from odoo.addons.base.models import ir_mail_server
from odoo.addons.ipai_tenant_runtime import gates, module_gate, patching
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


@tagged("post_install", "-at_install")
class TestMailSenders(TransactionCase):
    """What leaves a tenant by mail carries one of its own host names as
    From and Return-Path, whatever the tenant's users and settings say."""

    def _prepared(self, sender, *hosts):
        message = self.env["ir.mail_server"].build_email(
            sender, ["someone@customer.example"], "Quotation", "Hello"
        )
        rows = [route_row(host, self.env.cr.dbname) for host in hosts]
        with tenant_runtime(*rows):
            return self._gated_prepare(message)

    def _gated_prepare(self, message):
        """Odoo's _prepare_email_message under the gate, as post_load
        patches it in the tenant runtime."""
        original = patching.original(ir_mail_server.IrMailServer, "_prepare_email_message")
        gated = gates._tenant_senders(original)
        return gated(self.env["ir.mail_server"], message, None)

    def test_a_foreign_sender_is_rewritten_to_the_tenants_host(self):
        smtp_from, _to, message = self._prepared('"Ann" <ceo@bank.example>', "acme.example.com")
        self.assertEqual(parseaddr(message["From"]), ("Ann", "notifications@acme.example.com"))
        self.assertEqual(smtp_from, "bounce@acme.example.com")

    def test_an_address_on_a_tenant_host_is_kept(self):
        sender = '"Sales" <sales@shop.example>'
        smtp_from, _to, message = self._prepared(sender, "acme.example.com", "shop.example")
        self.assertEqual(parseaddr(message["From"]), ("Sales", "sales@shop.example"))
        self.assertEqual(smtp_from, "sales@shop.example")

    def test_the_tenants_chosen_domain_when_it_is_its_own(self):
        if "alias_domain_id" not in self.env.company:
            self.skipTest("mail is not installed")
        domain = self.env["mail.alias.domain"].create({"name": "shop.example"})
        self.env.company.alias_domain_id = domain
        _from, _to, message = self._prepared(
            "x@elsewhere.example", "acme.example.com", "shop.example"
        )
        self.assertEqual(parseaddr(message["From"]), ("x", "notifications@shop.example"))
        domain.name = "bank.example"  # not the tenant's: its first host instead
        _from, _to, message = self._prepared(
            "x@elsewhere.example", "acme.example.com", "shop.example"
        )
        self.assertEqual(parseaddr(message["From"]), ("x", "notifications@acme.example.com"))

    def test_nothing_changes_outside_the_tenant_runtime(self):
        message = self.env["ir.mail_server"].build_email(
            "ceo@bank.example", ["someone@customer.example"], "Quotation", "Hello"
        )
        with runtime(None):
            _smtp_from, _to, message = self._gated_prepare(message)
        self.assertEqual(parseaddr(message["From"]), ("", "ceo@bank.example"))
