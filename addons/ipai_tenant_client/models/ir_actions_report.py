"""PDF documents of a tenant, rendered by wkhtmltopdf on the node that
serves the request.

Odoo hands wkhtmltopdf the report's HTML and lets it fetch the styles and
images from the database's own URL. On a tenant runtime that URL is the
tenant's host name, which need not resolve on the node (development's
``*.localhost``, a node behind a proxy), and ``report.url`` is a parameter
the tenant's administrator may point anywhere. So every fetch of
wkhtmltopdf goes to this very node, as an HTTP proxy request naming the
tenant's host: the runtime routes it to the tenant's database by that
name, the session cookie Odoo gives wkhtmltopdf matches it, and nothing a
document names (an image URL in a product description, the cloud's
metadata address) is fetched from anywhere else.

Debian's wkhtmltopdf is built without Odoo's patched Qt, which alone
repeats a header and a footer on every page, and it draws the text of a
web font (the reports' Lato) as outlines, leaving a PDF without text to
search, copy or read aloud. There, the layout's header (the company's name
and address) opens the document and its footer closes it, instead of being
dropped, and the text is set in an installed font (DejaVu Sans).
"""

import functools
import subprocess
from urllib.parse import urlsplit

import lxml.html
from odoo import api, models
from odoo.addons.base.models.ir_actions_report import _get_wkhtmltopdf_bin
from odoo.http import request
from odoo.tools import config

# Every text in an installed font; icon fonts (Font Awesome, Odoo's) kept.
INSTALLED_FONT_CSS = (
    "body, body *:not(.fa):not(.oi) {font-family: 'DejaVu Sans', sans-serif !important;}"
)

# Addresses a server listens on that a client cannot connect to.
ANY_ADDRESS = ("", "0.0.0.0", "::")


def node_address():
    """Where this Odoo process's HTTP server listens, as a client reaches it."""
    interface = config.get("http_interface") or ""
    host = "127.0.0.1" if interface in ANY_ADDRESS else interface
    return f"http://{host}:{config['http_port']}"


@functools.cache
def wkhtmltopdf_repeats_headers():
    """Whether wkhtmltopdf can repeat a header and footer on every page
    (the build "with patched qt")."""
    try:
        version = subprocess.run(
            [_get_wkhtmltopdf_bin(), "--version"], capture_output=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return True  # no wkhtmltopdf: Odoo says so itself
    return b"patched qt" in version


def _part(document, part_id):
    """The header's or footer's rendered part (Odoo's minimal layout)."""
    if not document:
        return None
    found = lxml.html.document_fromstring(document).xpath(f'//div[@id="{part_id}"]')
    if not found:
        return None
    # "Page x / y" is filled in on repeated footers only.
    for page_number in found[0].xpath('.//span[@class="page"]/..'):
        page_number.getparent().remove(page_number)
    return found[0]


def _for_unpatched_qt(body, header, footer):
    """``body`` (one document's page) opening with ``header``, closing with
    ``footer``, its text in an installed font."""
    root = lxml.html.document_fromstring(body)
    style = lxml.html.Element("style")
    style.text = INSTALLED_FONT_CSS
    root.find("head").append(style)
    articles = root.xpath("//div[contains(concat(' ', normalize-space(@class), ' '), ' article ')]")
    if not articles:
        return lxml.html.tostring(root, encoding="unicode", doctype="<!DOCTYPE html>")
    article = articles[0]
    if header is not None:
        article.addprevious(header)
    if footer is not None:
        article.addnext(footer)
    return lxml.html.tostring(root, encoding="unicode", doctype="<!DOCTYPE html>")


class IrActionsReport(models.Model):
    _inherit = "ir.actions.report"

    def _ipai_tenant_host(self):
        """The host name the runtime knows this database by: the request's
        (a custom domain included), else the URL the platform set."""
        if request and request.db == self.env.cr.dbname:
            return request.httprequest.host
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url") or ""
        return urlsplit(base_url).netloc or "localhost"

    def _get_report_url(self, layout=None):
        # Plain HTTP: wkhtmltopdf speaks to the node, never through TLS.
        return f"http://{self._ipai_tenant_host()}"

    @api.model
    def _build_wkhtmltopdf_args(
        self, paperformat_id, landscape, specific_paperformat_args=None, set_viewport_size=False
    ):
        args = super()._build_wkhtmltopdf_args(
            paperformat_id, landscape, specific_paperformat_args, set_viewport_size
        )
        # The proxy resolves host names too: the tenant's need not resolve here.
        return [*args, "--proxy", node_address(), "--proxy-hostname-lookup"]

    def _prepare_html(self, html, report_model=False):
        prepared = super()._prepare_html(html, report_model=report_model)
        if not prepared or wkhtmltopdf_repeats_headers():
            return prepared
        bodies, res_ids, header, footer, paper_args = prepared
        framed = []
        for body in bodies:
            # Parsed again for each body: an element moves when inserted.
            top = _part(header, "minimal_layout_report_headers")
            bottom = _part(footer, "minimal_layout_report_footers")
            framed.append(_for_unpatched_qt(body, top, bottom))
        # No header margin left empty above the page's own.
        paper_args = {**paper_args, "data-report-margin-top": 10, "data-report-header-spacing": 0}
        return framed, res_ids, None, None, paper_args
