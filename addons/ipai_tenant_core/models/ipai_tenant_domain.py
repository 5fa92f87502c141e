"""Custom domains of a tenant: normalised, owned, proven, then routed.

A domain is refused when it could take traffic that is not the tenant's: an
IP literal, ``localhost``, a platform host name, a name under the platform's
base domain (other than the tenant's own), another tenant's domain, or when
the tenant's plan has no custom domains. An accepted domain is routed only
once its ownership is proven by a DNS TXT record (infra/dns_proof.py).
"""

import ipaddress
import secrets

from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import mail, naming
from odoo.exceptions import UserError, ValidationError

from ..infra import dns_proof

DNS_RESOLVER_PARAM = "ipai_tenant_core.dns_resolver"
# Set by the DNS check alone: a verified domain is routed to its tenant.
PROOF_FIELDS = frozenset({"verified", "verified_at", "verification_token"})


def normalize(name):
    """Lower case, no surrounding whitespace or trailing dot, IDNA (punycode)."""
    name = (name or "").strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name  # refused by the host name check, with the name as typed


class IpaiTenantDomain(models.Model):
    _name = "ipai.tenant.domain"
    _description = "Tenant custom domain"
    _inherit = ["ipai.text.input.mixin", "ipai.guarded.defaults.mixin"]
    _order = "name"

    name = fields.Char(string="Host name", required=True)
    tenant_id = fields.Many2one("ipai.tenant", required=True, ondelete="cascade", index=True)
    verification_token = fields.Char(
        readonly=True, copy=False, default=lambda self: secrets.token_urlsafe(18)
    )
    verification_record = fields.Char(compute="_compute_verification_record")
    mail_records = fields.Text(
        compute="_compute_mail_records",
        string="Mail DNS records",
        help="What to publish for mail from this domain to be accepted (SPF, DKIM, DMARC).",
    )
    verified = fields.Boolean(readonly=True, copy=False, default=False)
    verified_at = fields.Datetime(readonly=True, copy=False)

    _sql_constraints = [
        ("name_unique", "unique(name)", "This host name is not available."),
    ]

    @api.depends("name", "verification_token")
    def _compute_verification_record(self):
        for domain in self:
            domain.verification_record = (
                f'{dns_proof.record_name(domain.name)} TXT "'
                f'{dns_proof.expected_value(domain.verification_token)}"'
                if domain.name
                else False
            )

    @api.depends("name")
    def _compute_mail_records(self):
        params = self.env["ir.config_parameter"].sudo()
        platform = {
            "spf": params.get_param(mail.SPF_PARAM),
            "dkim_selector": params.get_param(mail.DKIM_SELECTOR_PARAM),
            "dkim_key": params.get_param(mail.DKIM_KEY_PARAM),
        }
        for domain in self:
            domain.mail_records = "\n".join(mail.records(domain.name, **platform)) or False

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_not_engine_owned(vals)
            self._check_text_input(vals)  # before normalising: a trailing newline is refused
            if vals.get("name"):
                vals["name"] = normalize(vals["name"])
        domains = super(IpaiTenantDomain, self._without_guarded_defaults()).create(vals_list)
        if not self.env.su and any(domain.sudo().verified for domain in domains):
            # Whatever carried it in: a new domain proves itself by DNS.
            raise UserError(self.env._("A domain is verified by its DNS record, not by hand."))
        for domain in domains:
            domain.tenant_id.check_access("write")
            domain.tenant_id._audit("domain:add", {"domain": (False, domain.name)})
        self.env["ipai.tenant"]._bump_routing_version()
        return domains

    def write(self, vals):
        self._check_not_engine_owned(vals)
        self.check_access("write")
        self.tenant_id.check_access("write")
        if vals.get("tenant_id"):
            self.env["ipai.tenant"].browse(vals["tenant_id"]).check_access("write")
        self._check_text_input(vals)
        if vals.get("name"):
            vals["name"] = normalize(vals["name"])
        if "name" in vals or "tenant_id" in vals:
            # A changed domain proves itself again.
            vals = dict(vals, verified=False, verified_at=False)
            vals["verification_token"] = secrets.token_urlsafe(18)
            before = {domain.id: domain.name for domain in self}
            result = super(IpaiTenantDomain, self.sudo()).write(vals)
            for domain in self:
                domain.tenant_id._audit(
                    "domain:change", {"domain": (before[domain.id], domain.name)}
                )
        else:
            result = super().write(vals)
        self.env["ipai.tenant"]._bump_routing_version()
        return result

    def unlink(self):
        # Every role reads a tenant's domains; changing them is changing
        # the tenant (managers and stronger roles).
        self.tenant_id.check_access("write")
        for domain in self:
            domain.tenant_id._audit("domain:remove", {"domain": (domain.name, False)})
        result = super().unlink()
        self.env["ipai.tenant"]._bump_routing_version()
        return result

    def _guarded_fields(self):
        return super()._guarded_fields() | PROOF_FIELDS

    def _check_not_engine_owned(self, vals):
        owned = PROOF_FIELDS & set(vals)
        if owned and not self.env.su:
            raise UserError(self.env._("A domain is verified by its DNS record, not by hand."))

    @api.constrains("name", "tenant_id")
    def _check_name(self):
        tenants = self.env["ipai.tenant"]
        base_domain = tenants._base_domain()
        platform_hosts = {normalize(host) for host in tenants._platform_hosts() if host.strip()}
        for domain in self:
            problem = self._name_problem(domain, base_domain, platform_hosts)
            if problem:
                raise ValidationError(problem)

    def _name_problem(self, domain, base_domain, platform_hosts):
        name = domain.name
        if not naming.is_valid_hostname(name):
            return self.env._("'%s' is not a valid host name.", name)
        if _is_ip_literal(name):
            return self.env._("%s is an IP address; use a host name of your own.", name)
        if name == "localhost" or name.endswith(".localhost"):
            return self.env._("%s is a loopback name; use a host name of your own.", name)
        if name in platform_hosts:
            return self.env._("%s is one of the platform's own host names.", name)
        own = domain.tenant_id.sudo().primary_domain
        if (name == base_domain or name.endswith("." + base_domain)) and name != own:
            return self.env._(
                "%s is under the platform's own domain; use a host name of your own.", name
            )
        plan = domain.tenant_id.sudo().plan_id
        if not plan.feature_custom_domain:
            return self.env._(
                "The plan %s does not include custom domains; upgrade the plan first.",
                plan.name,
            )
        return None

    def action_verify(self):
        """Look the TXT record up; route the domain once it is there."""
        resolver = self.env["ir.config_parameter"].sudo().get_param(DNS_RESOLVER_PARAM)
        for domain in self:
            domain.tenant_id.check_access("write")
            if not dns_proof.is_proven(domain.name, domain.verification_token, resolver):
                raise UserError(
                    self.env._(
                        "No DNS record proves %(domain)s yet: publish %(record)s, then verify "
                        "again (DNS changes can take a few minutes).",
                        domain=domain.name,
                        record=domain.verification_record,
                    )
                )
            domain.sudo().write({"verified": True, "verified_at": fields.Datetime.now()})
            domain.tenant_id._audit("domain:verified", {"domain": (False, domain.name)})
        self.env["ipai.tenant"]._bump_routing_version()
        return True


def _is_ip_literal(name):
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        # Dotted forms the resolver would still take as an address (1.2.3, 0x7f.1).
        return all(label.isdigit() or label.startswith("0x") for label in name.split("."))
