"""Gates of the tenant runtime that no tenant can lift.

They are added to Odoo's own base models (res.users, res.company,
ir.module.module) when this server-wide addon is imported, before any
registry is built, so they hold in every tenant database whether or not
ipai_tenant_client is installed; and they read the plan from the platform's
routing view (routing_map), not from values inside the tenant database that
its admin could rewrite.

- user and company limits of the plan;
- the plan's module set: a module outside it (and outside what it depends
  on) cannot be installed, whatever the path (button, immediate install,
  marking modules and upgrading).

- the plan's features (``feature_allowed``): embedded BI dashboards.

- outgoing mail: its From and its envelope sender (Return-Path) on one of
  the tenant's own host names (its own, or a verified custom domain),
  whatever the tenant set (its users' addresses, its alias domain, the
  ``mail.default.from_filter`` parameter), Sender, Return-Path and Resent-*
  headers elsewhere dropped, no address in From's display name: a tenant
  never sends in another domain's name through the platform. What a
  tenant's code may do with an SMTP connection itself: smtp_gate.py.

Suspension is enforced by http_routing before a request reaches a database.
"""

from email.utils import formataddr, parseaddr

from odoo import api
from odoo.addons.base.models import ir_mail_server, ir_module, res_company, res_users
from odoo.exceptions import UserError, ValidationError
from odoo.tools.mail import encapsulate_email

from . import module_gate, patching, runtime_config, smtp_gate
from .routing_map import ROUTES


def _route(env):
    if runtime_config.mode() != runtime_config.TENANT:
        return None
    return ROUTES.tenant(env.cr.dbname)


def _limit_error(env, route, limit_key, count, what):
    limit = route.limits.get(limit_key)
    if limit and count > limit:
        raise ValidationError(
            env._(
                "Your plan %(plan)s allows %(limit)s %(what)s; this would make %(count)s. "
                "Upgrade the plan to add more.",
                plan=route.plan_name or route.plan_code,
                limit=limit,
                what=what,
                count=count,
            )
        )


def feature_allowed(env, feature):
    """Whether the tenant's plan includes ``feature``; outside the tenant
    runtime (tests, the engine's own processes) nothing is gated."""
    route = _route(env)
    return route is None or bool(route.features.get(feature))


def plan_name(env):
    route = _route(env)
    return (route.plan_name or route.plan_code) if route else ""


# ----------------------------------------------------------------- limits


@api.constrains("active", "share", "groups_id", "company_ids")
def _ipai_gate_user_limit(self):
    """Internal users count against the plan; portal and public users, which
    are ``share``, do not, nor do the technical users of the root range."""
    route = _route(self.env)
    if route is None or not self.filtered(lambda user: user.active and not user.share):
        return
    internal = self.sudo().with_context(active_test=True).search([("share", "=", False)])
    internal = internal.filtered(lambda user: not user._is_superuser())
    _limit_error(self.env, route, "users", len(internal), self.env._("internal users"))
    if route.limits.get("users_per_company"):
        for company in internal.company_ids:
            count = len(internal.filtered(lambda u, c=company: c in u.company_ids))
            what = self.env._("internal users in %s", company.name)
            _limit_error(self.env, route, "users_per_company", count, what)


@api.constrains("active")
def _ipai_gate_company_limit(self):
    route = _route(self.env)
    if route is None:
        return
    count = self.sudo().with_context(active_test=True).search_count([])
    _limit_error(self.env, route, "companies", count, self.env._("companies"))


# ------------------------------------------------------------- module set


def _check_plan_modules(modules):
    """Refuse ``modules`` outside the plan with a message, before anything
    is marked (module_gate holds the same set where modules are loaded).
    Installed modules stay allowed; dependencies and auto-install bridges
    come from the manifests, not from rows the tenant may rewrite."""
    route = _route(modules.env)
    if route is None:
        return
    allowed = module_gate.closure(frozenset(route.modules))
    refused = [
        module.shortdesc or module.name
        for module in modules.sudo().sorted("name")
        if module.name not in allowed and module.state != "installed"
    ]
    if refused:
        raise UserError(
            modules.env._(
                "Your plan %(plan)s does not include %(modules)s. Upgrade the plan to install it.",
                plan=route.plan_name or route.plan_code,
                modules=", ".join(refused),
            )
        )


def _gated_button_install(original):
    def button_install(self):
        _check_plan_modules(self)
        return original(self)

    return button_install


def _gated_immediate_function(original):
    def _button_immediate_function(self, function):
        def checked(records):
            result = function(records)
            _check_plan_modules(records.search([("state", "=", "to install")]))
            return result

        return original(self, checked)

    return _button_immediate_function


# ---------------------------------------------------------- outgoing mail

NOTIFICATIONS, BOUNCE = "notifications", "bounce"


def _sender_domain(env, hosts):
    """The domain a tenant's mail leaves from: its company's alias domain
    when that is one of its hosts (a tenant may pick its custom domain),
    else its first host."""
    company = env.company.sudo()
    chosen = company.alias_domain_name if "alias_domain_name" in company else None
    return chosen if chosen in hosts else hosts[0]


def _without_address_in_name(sender):
    """``"ceo@bank.example" <notifications@host>`` reads as the bank's in
    many mail clients: an address-like display name loses its '@'."""
    name, address = parseaddr(sender or "")
    if "@" not in name:
        return sender
    return formataddr((name.replace("@", " at "), address))


def _tenant_senders(original):
    def _prepare_email_message(self, message, smtp_session):
        smtp_from, smtp_to_list, message = original(self, message, smtp_session)
        hosts = ROUTES.hosts_of(self.env.cr.dbname) if _route(self.env) else []
        if not hosts:
            return smtp_from, smtp_to_list, message
        domain = _sender_domain(self.env, hosts)
        sender = message["From"] or ""
        if not smtp_gate.on_hosts(sender, hosts):
            # "Name" <notifications@tenant host>: who wrote it stays visible.
            sender = encapsulate_email(sender, f"{NOTIFICATIONS}@{domain}")
        del message["From"]
        message["From"] = _without_address_in_name(sender)
        if not smtp_gate.on_hosts(smtp_from, hosts):
            smtp_from = f"{BOUNCE}@{domain}"
        for header in smtp_gate.SENDER_HEADERS:
            if not all(smtp_gate.on_hosts(value, hosts) for value in message.get_all(header, ())):
                del message[header]
        return smtp_from, smtp_to_list, message

    return _prepare_email_message


def install():
    # A refusal with a message before anything is marked; module_gate holds
    # whatever path goes around the buttons.
    patching.patch(ir_module.Module, "button_install", _gated_button_install)
    patching.patch(ir_module.Module, "_button_immediate_function", _gated_immediate_function)
    patching.patch(ir_mail_server.IrMailServer, "_prepare_email_message", _tenant_senders)
    # New constraint methods on the base models' own classes: every registry
    # built afterwards collects them, whatever its database has installed.
    patching.add(res_users.Users, "_ipai_gate_user_limit", _ipai_gate_user_limit)
    patching.add(res_company.Company, "_ipai_gate_company_limit", _ipai_gate_company_limit)
