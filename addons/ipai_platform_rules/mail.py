"""What a tenant's mail needs from DNS: the records an owner publishes for a
domain its mail leaves from, so that receivers accept it (SPF names the
relay, DKIM its signing key, DMARC what to do with the rest).

The platform's own values come from its parameters: ``SPF_PARAM`` (what the
SPF record allows, e.g. ``include:_spf.relay.example`` or ``ip4:203.0.113.7``),
``DKIM_SELECTOR_PARAM`` and ``DKIM_KEY_PARAM`` (the relay's public key,
base64); the DMARC policy is the platform's recommendation.
"""

SPF_PARAM = "ipai_tenant_core.mail_spf"
DKIM_SELECTOR_PARAM = "ipai_tenant_core.mail_dkim_selector"
DKIM_KEY_PARAM = "ipai_tenant_core.mail_dkim_key"
DEFAULT_DKIM_SELECTOR = "ipai"
DMARC_POLICY = "v=DMARC1; p=quarantine; adkim=r; aspf=r"


def records(domain, spf=None, dkim_selector=None, dkim_key=None):
    """The DNS records to publish for ``domain``, one ``name TXT "value"``
    line each; SPF and DKIM only once the platform names its relay and key."""
    if not domain:
        return []
    lines = []
    if spf:
        lines.append(f'{domain} TXT "v=spf1 {spf} -all"')
    if dkim_key:
        selector = dkim_selector or DEFAULT_DKIM_SELECTOR
        lines.append(f'{selector}._domainkey.{domain} TXT "v=DKIM1; k=rsa; p={dkim_key}"')
    lines.append(f'_dmarc.{domain} TXT "{DMARC_POLICY}"')
    return lines
