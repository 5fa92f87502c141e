from unittest.mock import patch

import lxml.html
from odoo.addons.ipai_tenant_client.models import ir_actions_report
from odoo.addons.ipai_tenant_client.models.ir_actions_report import (
    INSTALLED_FONT_CSS,
    node_address,
)
from odoo.tests import TransactionCase


class TestReportRendering(TransactionCase):
    """How a tenant's report reaches wkhtmltopdf: from the node only, and
    with Debian's unpatched build, framed by its header and footer."""

    def test_wkhtmltopdf_fetches_everything_from_the_node(self):
        report = self.env["ir.actions.report"]
        self.env["ir.config_parameter"].sudo().set_param("report.url", "http://169.254.169.254")
        self.env["ir.config_parameter"].sudo().set_param(
            "web.base.url", "https://acme.tenants.example"
        )
        self.assertEqual(report._get_report_url(), "http://acme.tenants.example")
        paperformat = self.env.ref("base.paperformat_euro")
        args = report._build_wkhtmltopdf_args(paperformat, False)
        self.assertEqual(args[-3:], ["--proxy", node_address(), "--proxy-hostname-lookup"])

    def test_the_node_is_reached_on_loopback_when_it_listens_everywhere(self):
        with patch.dict(ir_actions_report.config.options, {"http_interface": "0.0.0.0"}):
            self.assertTrue(node_address().startswith("http://127.0.0.1:"))

    def test_an_unpatched_wkhtmltopdf_gets_header_and_footer_in_the_page(self):
        # What a report's layout renders: header, the document, footer.
        page = """<html><body><main>
            <div class="header"><p>Acme Books, 12 Ledger Lane</p></div>
            <div class="article" data-oe-model="res.partner" data-oe-id="1">Invoice</div>
            <div class="footer"><p>acme.example</p>
                <div>Page <span class="page"/> / <span class="topage"/></div></div>
        </main></body></html>"""
        report = self.env["ir.actions.report"]
        with patch.object(ir_actions_report, "wkhtmltopdf_repeats_headers", return_value=False):
            bodies, _ids, header, footer, paper = report._prepare_html(page, "res.partner")
        self.assertIsNone(header)
        self.assertIsNone(footer)
        self.assertEqual(paper["data-report-margin-top"], 10)
        root = lxml.html.document_fromstring(bodies[0])
        self.assertIn(INSTALLED_FONT_CSS, root.xpath("//head/style/text()"))
        [article] = root.xpath("//div[contains(@class, 'article')]")
        self.assertEqual(article.getprevious().get("id"), "minimal_layout_report_headers")
        self.assertEqual(article.getnext().get("id"), "minimal_layout_report_footers")
        self.assertIn("12 Ledger Lane", article.getprevious().text_content())
        self.assertIn("acme.example", article.getnext().text_content())
        self.assertFalse(root.xpath('//span[@class="page"]'), "no empty page numbers")

    def test_a_patched_wkhtmltopdf_keeps_odoos_header_and_footer(self):
        page = """<html><body><main><div class="header">Acme</div>
            <div class="article" data-oe-model="res.partner" data-oe-id="1">Invoice</div>
        </main></body></html>"""
        report = self.env["ir.actions.report"]
        with patch.object(ir_actions_report, "wkhtmltopdf_repeats_headers", return_value=True):
            bodies, _ids, header, _footer, _paper = report._prepare_html(page, "res.partner")
        self.assertIn("Acme", header)
        self.assertNotIn("Acme", bodies[0])
