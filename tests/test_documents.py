"""A tenant prints its documents: a posted invoice and a quotation render to
PDF through the tenant runtime, as a user's "Print" does, with the tenant's
company (name and address) and the document's own figures in them.

wkhtmltopdf is Debian's (scripts/bootstrap.sh); it fetches the report's
styles from the node that serves the request, by the tenant's host name,
and nothing else (ipai_tenant_client/models/ir_actions_report.py)."""

import http.server
import subprocess
import threading

import pytest

from .support import provision, tenant_login

CODE = "docs-acme"


def pdf_text(pdf):
    assert pdf.startswith(b"%PDF-"), pdf[:200]
    result = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return result.stdout.decode()


def print_pdf(rpc, report, record_id):
    """GET /report/pdf/<report>/<id>, as the web client's Print menu does."""
    response = rpc.session.get(f"{rpc.url}/report/pdf/{report}/{record_id}", timeout=120)
    assert response.status_code == 200, response.text[:2000]
    assert response.headers["Content-Type"] == "application/pdf"
    return response.content


@pytest.fixture(scope="module")
def books(cli, tenant_server, credentials_dir):
    """A tenant on a plan with sales and invoicing, its company's address
    filled in, a customer, a posted invoice and a quotation."""
    provision(cli, CODE, "--plan", "professional", "--name", "Acme Books")
    rpc = tenant_login(tenant_server, CODE, credentials_dir)
    [user] = rpc.call("res.users", "read", [rpc.uid], ["company_id"])
    company_id = user["company_id"][0]
    rpc.call(
        "res.company",
        "write",
        [company_id],
        {"street": "12 Ledger Lane", "zip": "1000", "city": "Brussels"},
    )
    customer = rpc.call(
        "res.partner",
        "create",
        {"name": "Globex Corporation", "street": "7 Cypress Street", "city": "Springfield"},
    )
    invoice = rpc.call(
        "account.move",
        "create",
        {
            "move_type": "out_invoice",
            "partner_id": customer,
            "invoice_line_ids": [
                (0, 0, {"name": "Annual audit", "quantity": 3, "price_unit": 1234.5})
            ],
        },
    )
    rpc.call("account.move", "action_post", [invoice])
    [posted] = rpc.call("account.move", "read", [invoice], ["name", "state"])
    assert posted["state"] == "posted"
    order = rpc.call(
        "sale.order",
        "create",
        {
            "partner_id": customer,
            "order_line": [(0, 0, {"name": "Bookkeeping hours", "product_uom_qty": 8})],
        },
    )
    return rpc, invoice, posted["name"], order


def test_a_posted_invoice_prints_with_its_number_customer_and_company(books):
    rpc, invoice, number, _order = books
    text = pdf_text(print_pdf(rpc, "account.report_invoice", invoice))
    assert number.startswith("INV/")
    for expected in (number, "Globex Corporation", "7 Cypress Street", "Acme Books"):
        assert expected in text, f"{expected!r} missing from the invoice:\n{text}"
    # The company's address, from the layout's header.
    assert "12 Ledger Lane" in text and "Brussels" in text, text
    assert "3,703.50" in text, text


def test_a_quotation_prints_with_its_lines(books):
    rpc, _invoice, _number, order = books
    [quotation] = rpc.call("sale.order", "read", [order], ["name"])
    text = pdf_text(print_pdf(rpc, "sale.report_saleorder", order))
    for expected in (quotation["name"], "Globex Corporation", "Bookkeeping hours", "Acme Books"):
        assert expected in text, f"{expected!r} missing from the quotation:\n{text}"


@pytest.fixture
def listener():
    """An internal service an attacker would like wkhtmltopdf to call (with
    the session cookie Odoo gives it): records every request it gets."""
    seen = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Cookie")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_a_document_fetches_nothing_beyond_the_node(books, listener):
    """A tenant's admin points ``report.url`` (where stock Odoo sends
    wkhtmltopdf, session cookie included) at another service and puts an
    image from it in the invoice's terms: the PDF still prints, its styles
    from the node, and the service got no request."""
    rpc, invoice, number, _order = books
    url, seen = listener
    rpc.call("ir.config_parameter", "set_param", "report.url", url)
    rpc.call(
        "account.move",
        "write",
        [invoice],
        {"narration": f'<p>Terms <img src="{url}/pixel.png"/></p>'},
    )
    try:
        text = pdf_text(print_pdf(rpc, "account.report_invoice", invoice))
    finally:
        rpc.call("ir.config_parameter", "set_param", "report.url", False)
    assert number in text and "12 Ledger Lane" in text and "Terms" in text
    assert seen == [], f"wkhtmltopdf called {url}: {seen}"
