"""Plan limits and the module set as the tenant runtime enforces them on a
real database's records, with the plan read from a route."""

from email.utils import parseaddr
from unittest.mock import patch

from odoo.addons.base.models import ir_mail_server
from odoo.addons.ipai_tenant_runtime import gates, module_gate, patching, smtp_gate
from odoo.addons.ipai_tenant_runtime.tests.common import route_row, runtime, tenant_runtime
from odoo.exceptions import UserError, ValidationError
from odoo.tests import TransactionCase, tagged
from odoo.tools import config
from odoo.tools.safe_eval import safe_eval


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

    def test_other_sender_headers_and_an_address_as_name_are_dropped(self):
        message = self.env["ir.mail_server"].build_email(
            '"ceo@bank.example" <ceo@bank.example>',
            ["someone@customer.example"],
            "Quotation",
            "Hello",
            headers={"Sender": "ceo@bank.example", "Resent-From": "ceo@bank.example"},
        )
        rows = [route_row("acme.example.com", self.env.cr.dbname)]
        with tenant_runtime(*rows):
            smtp_from, _to, message = self._gated_prepare(message)
        self.assertNotIn("bank.example", message["From"].replace(" at bank.example", ""))
        self.assertEqual(parseaddr(message["From"])[1], "notifications@acme.example.com")
        self.assertIsNone(message["Sender"])
        self.assertIsNone(message["Resent-From"])
        self.assertIsNone(smtp_gate.sending_problem(message, smtp_from, ("acme.example.com",)))


class FakeSmtp:
    """What Odoo's SMTPConnection offers, recording what is sent."""

    from_filter = False
    smtp_from = "bounce@acme.example.com"

    def __init__(self):
        self.sent = []

    def send_message(self, message, from_addr=None, to_addrs=None):
        self.sent.append((message["From"], from_addr, to_addrs))

    def sendmail(self, *args):
        self.sent.append(args)

    def auth_plain(self, challenge=None):
        return "\0relay-user\0relay-password"

    def quit(self):
        pass

    close = quit


@tagged("post_install", "-at_install")
class TestSmtpGate(TransactionCase):
    """A tenant's server action holding an SMTP connection: it sends only
    what the sender gate would, and learns nothing of the relay's login;
    no SMTP connection reaches a private address but the relay."""

    HOSTS = ("acme.example.com",)

    def _message(self, sender, **headers):
        return self.env["ir.mail_server"].build_email(
            sender, ["victim@customer.example"], "Pay now", "x", headers=headers
        )

    def test_the_connection_a_server_action_gets_sends_nothing_by_hand(self):
        real = FakeSmtp()
        gated = smtp_gate.GatedConnection(real, self.HOSTS)
        for name in ("sendmail", "auth_plain", "user", "mail", "rcpt", "data", "docmd", "login"):
            self.assertFalse(hasattr(gated, name), name)
        for code in (
            "c.sendmail('ceo@bank.example', ['v@x.example'], 'From: ceo@bank.example')",
            "c._GatedConnection__connection.sendmail('a@b.example', ['v@x.example'], 'x')",
            "c._GatedConnection__connection.auth_plain()",
        ):
            # safe_eval: a ValueError for a missing attribute, a NameError
            # for a name holding "__".
            try:
                safe_eval(code, {"c": gated})
            except (ValueError, NameError):
                continue
            self.fail(f"ran: {code}")
        self.assertEqual(real.sent, [])

    def test_send_message_is_checked_again(self):
        real = FakeSmtp()
        gated = smtp_gate.GatedConnection(real, self.HOSTS)
        for message, envelope in (
            (self._message("ceo@bank.example"), "bounce@acme.example.com"),
            (self._message("sales@acme.example.com"), "ceo@bank.example"),
            (
                self._message("sales@acme.example.com", Sender="ceo@bank.example"),
                "bounce@acme.example.com",
            ),
        ):
            with self.assertRaises(ir_mail_server.MailDeliveryException):
                gated.send_message(message, envelope, ["victim@customer.example"])
        self.assertEqual(real.sent, [])
        gated.send_message(
            self._message("sales@acme.example.com"), "bounce@acme.example.com", ["v@x.example"]
        )
        self.assertEqual(len(real.sent), 1)

    def test_no_smtp_connection_to_a_private_address_but_the_relay(self):
        token = smtp_gate._OWN_SERVER_ALLOWED.set(True)  # a plan with its own SMTP
        try:
            for host in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "localhost"):
                with self.assertRaises(smtp_gate.PrivateSmtpTarget, msg=host):
                    smtp_gate.check_target(host, 25)
            smtp_gate.check_target("93.184.216.34", 25)  # a public address: allowed
            with patch.dict(config.options, {"smtp_server": "127.0.0.1", "smtp_port": 2525}):
                smtp_gate.check_target("127.0.0.1", 2525)  # the cell's relay
                with self.assertRaises(smtp_gate.PrivateSmtpTarget):
                    smtp_gate.check_target("127.0.0.1", 5432)
        finally:
            smtp_gate._OWN_SERVER_ALLOWED.reset(token)

    def test_without_its_own_smtp_in_the_plan_only_the_relay(self):
        # The default: any path to an SMTP connection but connect() on a
        # plan with its own server.
        with patch.dict(config.options, {"smtp_server": "127.0.0.1", "smtp_port": 2525}):
            smtp_gate.check_target("127.0.0.1", 2525)
            for host in ("93.184.216.34", "smtp.gmail.com", "invalid"):
                with self.assertRaises(smtp_gate.OwnSmtpNotInPlan, msg=host):
                    smtp_gate.check_target(host, 587)
