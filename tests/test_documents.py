"""A tenant prints its documents: a posted invoice and a quotation render to
PDF through the tenant runtime, as a user's "Print" does, with the tenant's
company (name and address) and the document's own figures in them; and
sends them: "Send by e-mail" delivers the quotation with its PDF through
the platform's SMTP server (`make run`'s mail catcher here), from the
tenant's own host name whatever sender its admin sets; and the customer's
reply comes back into the quotation's chatter through the cell's inbound
mail gateway (scripts/mail_gateway.py, ipai_tenant_runtime/mail_gateway.py),
which alone may deliver.

wkhtmltopdf is Debian's (scripts/bootstrap.sh); it fetches the report's
styles from the node that serves the request, by the tenant's host name,
and nothing else (ipai_tenant_client/models/ir_actions_report.py)."""

import http.server
import mailbox
import os
import smtplib
import subprocess
import threading
import time
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

import pytest
import requests
from odoo.addons.ipai_tenant_runtime import credentials

from .support import (
    RpcError,
    inbound_gateway,
    mail_catcher,
    mail_policy,
    post_invoice,
    provision,
    run_code,
    temporary_plan,
    tenant_login,
    tenant_runtime,
)

CODE = "docs-acme"
OTHER = "docs-other"
PG_PORT = int(os.environ.get("PGPORT", "5432"))


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
        {
            "name": "Globex Corporation",
            "street": "7 Cypress Street",
            "city": "Springfield",
            "email": "purchasing@globex.example",
        },
    )
    invoice = post_invoice(rpc, customer, [("Annual audit", 3, 1234.5)])
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


@pytest.fixture(scope="module")
def mailing_runtime(platform_db, tmp_path_factory):
    """A node of the tenant runtime whose SMTP server is the mail catcher,
    asking the cell's mail policy service about each message, as under
    `make run`; yields the node, the catcher's Maildir and its port."""
    folder = tmp_path_factory.mktemp("documents-mail")
    node = tenant_runtime(platform_db, "documents-mail")
    with (
        mail_policy(platform_db, tmp_path_factory.mktemp("mail-policy")) as policy_port,
        mail_catcher(folder, runtime_url=node.url, policy_port=policy_port) as port,
    ):
        node.options = {"smtp_server": "127.0.0.1", "smtp_port": str(port)}
        node.start()
        try:
            yield node, folder, port
        finally:
            node.stop()


def caught(folder, subject_part, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in mailbox.Maildir(folder, create=False) if subject_part in m["Subject"]]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def quotation_mails(folder, name):
    """The quotation's own mails, PDF attached (the catcher also keeps the
    replies sent to the tenant and the notifications of them)."""
    return [
        message
        for message in caught(folder, name)
        if "notifications@" in message["From"]
        and any(part.get_content_type() == "application/pdf" for part in message.walk())
    ]


def send_quotation(rpc, order):
    """The quotation's "Send" button, then the composer's "Send"."""
    action = rpc.call("sale.order", "action_quotation_send", [order])
    context = action["context"]
    composer = rpc.call("mail.compose.message", "create", {}, context=context)
    rpc.call("mail.compose.message", "action_send_mail", [composer], context=context)
    [quotation] = rpc.call("sale.order", "read", [order], ["name"])
    return quotation["name"]


def test_a_quotation_sent_by_email_leaves_from_the_tenants_host_with_its_pdf(
    books, mailing_runtime, credentials_dir
):
    node, folder, _port = mailing_runtime
    _rpc, _invoice, _number, order = books
    rpc = tenant_login(node, CODE, credentials_dir)
    name = send_quotation(rpc, order)
    [message] = caught(folder, name)
    host = f"{CODE}.localhost"
    assert parseaddr(message["From"])[1] == f"notifications@{host}", message["From"]
    assert parseaddr(message["X-MailFrom"])[1] == f"bounce@{host}"
    assert "purchasing@globex.example" in message["To"]
    # Replies go to the tenant's catchall, on its host.
    assert parseaddr(message["Reply-To"])[1] == f"catchall@{host}", message["Reply-To"]
    [pdf] = [part for part in message.walk() if part.get_content_type() == "application/pdf"]
    assert name in pdf_text(pdf.get_payload(decode=True))


def test_a_tenant_admin_cannot_send_in_another_domains_name(
    books, mailing_runtime, credentials_dir
):
    """The admin gives itself a bank's address, points its alias domain's
    sender at it and lifts Odoo's own from filter: the mail still leaves
    from the tenant's host, the bank's name nowhere in its addresses."""
    node, folder, _port = mailing_runtime
    rpc = tenant_login(node, CODE, credentials_dir)
    [partner] = rpc.call("sale.order", "read", [books[3]], ["partner_id"])
    order = rpc.call(
        "sale.order",
        "create",
        {
            "partner_id": partner["partner_id"][0],
            "order_line": [(0, 0, {"name": "Audit follow-up", "product_uom_qty": 2})],
        },
    )
    rpc.call("res.users", "write", [rpc.uid], {"email": "ceo@bank.example"})
    [company] = rpc.call("res.users", "read", [rpc.uid], ["company_id"])
    [domain] = rpc.call("res.company", "read", [company["company_id"][0]], ["alias_domain_id"])
    rpc.call(
        "mail.alias.domain",
        "write",
        [domain["alias_domain_id"][0]],
        {"default_from": "ceo@bank.example", "bounce_alias": "ceo"},
    )
    rpc.call("ir.config_parameter", "set_param", "mail.default.from_filter", "bank.example")
    name = send_quotation(rpc, order)
    [message] = caught(folder, name)
    for header in ("From", "X-MailFrom", "Return-Path"):
        assert "bank.example" not in (message[header] or ""), (header, message[header])
    assert parseaddr(message["From"])[1].endswith(f"@{CODE}.localhost"), message["From"]


RAW_SEND = """
c = env['ir.mail_server'].connect()
c.sendmail('ceo@bank.example', ['victim@customer.example'],
           'From: ceo@bank.example\\r\\nSubject: raw-bypass\\r\\n\\r\\npay now')
"""
RELAY_LOGIN = "c = env['ir.mail_server'].connect()\naction = {'login': c.auth_plain()}"
DIRECT_SEND = """
message = env['ir.mail_server'].build_email(
    'ceo@bank.example', ['victim@customer.example'], 'direct-send', 'pay now')
c = env['ir.mail_server'].connect()
c.send_message(message, 'ceo@bank.example', ['victim@customer.example'])
"""
PROBE = "env['ir.mail_server'].connect(host='127.0.0.1', port={port})"


def test_a_tenant_admins_code_sends_nothing_past_the_gate_and_reaches_no_internal_port(
    books, mailing_runtime, credentials_dir, platform_db
):
    """A server action with the SMTP connection in hand: sending raw SMTP,
    reading the relay's login, sending a message with a bank's From
    straight to the connection, probing PostgreSQL's port as an SMTP
    server, and a mail server record pointed there. Each is refused, and
    the catcher receives none of it; Sender and Return-Path headers naming
    the bank are dropped from what leaves."""
    node, folder, _port = mailing_runtime
    rpc = tenant_login(node, CODE, credentials_dir)
    for code in (RAW_SEND, RELAY_LOGIN, DIRECT_SEND, PROBE.format(port=PG_PORT)):
        with pytest.raises(RpcError):
            run_code(rpc, code)
    server = rpc.call(
        "ir.mail_server",
        "create",
        {"name": "internal", "smtp_host": "127.0.0.1", "smtp_port": PG_PORT},
    )
    # Its plan has no SMTP server of its own: only the relay, whatever the
    # address (a plan with one still reaches no private address: below).
    with pytest.raises(RpcError, match="own SMTP server"):
        rpc.call("ir.mail_server", "test_smtp_connection", [server])
    rpc.call("ir.mail_server", "unlink", [server])
    mail = rpc.call(
        "mail.mail",
        "create",
        {
            "subject": "header-spoof",
            "email_from": f"sales@{CODE}.localhost",
            "email_to": "victim@customer.example",
            "body_html": "<p>pay now</p>",
            "headers": repr({"Sender": "ceo@bank.example", "Return-Path": "ceo@bank.example"}),
        },
    )
    rpc.call("mail.mail", "send", [mail])
    [message] = caught(folder, "header-spoof")
    for header in ("From", "Sender", "Return-Path", "X-MailFrom"):
        assert "bank.example" not in (message[header] or ""), (header, message[header])
    assert not caught(folder, "raw-bypass", timeout=1)
    assert not caught(folder, "direct-send", timeout=1)


def credentials_signature(host, message):
    """What the cell's mail gateway would sign for ``host``."""
    return credentials.mail_signature(credentials.mail_gateway_key(), host, message)


def messages_containing(rpc, text):
    return rpc.call(
        "mail.message",
        "search_read",
        [("body", "ilike", text)],
        ["model", "res_id", "message_type", "author_id"],
    )


def customer_reply(rpc, folder, order, text):
    """The customer's answer to the quotation mail of ``order``, threaded
    as a mail client threads it."""
    [quotation] = rpc.call("sale.order", "read", [order], ["name"])
    [sent] = quotation_mails(folder, quotation["name"])
    reply = EmailMessage()
    reply["From"] = "Globex Purchasing <purchasing@globex.example>"
    reply["To"] = sent["Reply-To"]
    reply["Subject"] = f"Re: {sent['Subject']}"
    reply["Message-Id"] = make_msgid(domain="globex.example")
    reply["In-Reply-To"] = sent["Message-Id"]
    reply["References"] = sent["Message-Id"]
    reply.set_content(text)
    return reply


def test_a_reply_to_the_quotation_lands_in_its_chatter(
    books, mailing_runtime, credentials_dir, cli
):
    """The customer answers the quotation's mail: the reply goes to the
    platform's mail server (the catcher), whose gateway hands it to the
    tenant runtime at the tenant's host; Odoo's mail gateway threads it,
    there and in no other tenant."""
    provision(cli, OTHER)
    node, folder, port = mailing_runtime
    _rpc, _invoice, _number, order = books
    rpc = tenant_login(node, CODE, credentials_dir)
    reply = customer_reply(rpc, folder, order, "Please deliver by Friday, reference GLX-4711.")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.send_message(reply)
    deadline = time.monotonic() + 30
    while not (found := messages_containing(rpc, "GLX-4711")):
        assert time.monotonic() < deadline, "the reply never reached the tenant"
        time.sleep(0.5)
    [message] = found
    assert (message["model"], message["res_id"]) == ("sale.order", order)
    assert message["message_type"] == "email"
    other = tenant_login(node, OTHER, credentials_dir)
    assert messages_containing(other, "GLX-4711") == []


def test_the_production_inbound_gateway_hands_mail_to_its_tenant_only(
    books, mailing_runtime, credentials_dir
):
    """The MX of tenant hosts in production (docker-compose.yml mail-in):
    a reply to the quotation reaches its chatter; mail for a domain that
    is no tenant's is refused, and the gateway keeps nothing."""
    node, folder, _port = mailing_runtime
    _rpc, _invoice, _number, order = books
    rpc = tenant_login(node, CODE, credentials_dir)
    reply = customer_reply(rpc, folder, order, "Second batch by Monday, reference GLX-9000.")
    with inbound_gateway(node.url) as port, smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.send_message(reply)
        stray = EmailMessage()
        stray["From"] = "spam@elsewhere.example"
        stray["To"] = "someone@nobody-here.example"
        stray["Subject"] = "stray"
        stray.set_content("not for any tenant")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.send_message(stray)
        assert refused.value.smtp_code == 550, refused.value
    [message] = messages_containing(rpc, "GLX-9000")
    assert (message["model"], message["res_id"]) == ("sale.order", order)


def test_only_the_cells_gateway_delivers_incoming_mail(books, mailing_runtime, credentials_dir):
    """An anonymous client posts a forged message to the inbound route, and
    a signed message is replayed to another host: both refused (403), and
    nothing reaches the tenant's chatter."""
    node, folder, _port = mailing_runtime
    _rpc, _invoice, _number, order = books
    rpc = tenant_login(node, CODE, credentials_dir)
    [quotation] = rpc.call("sale.order", "read", [order], ["name"])
    [sent] = quotation_mails(folder, quotation["name"])
    forged = (
        (
            "From: ceo@globex.example\r\nTo: catchall@{host}\r\n"
            "Subject: Re: urgent\r\nIn-Reply-To: {parent}\r\n"
            "Message-Id: <forged-FRG-0815@globex.example>\r\n\r\nPay FRG-0815 now.\r\n"
        )
        .format(host=f"{CODE}.localhost", parent=sent["Message-Id"])
        .encode()
    )
    inbound = f"{node.url}/ipai/mail/inbound"
    anonymous = requests.post(
        inbound, data=forged, headers={"Host": f"{CODE}.localhost"}, timeout=30
    )
    assert anonymous.status_code == 403, anonymous.text
    signed_elsewhere = credentials_signature("other-tenant.localhost", forged)
    replayed = requests.post(
        inbound,
        data=forged,
        headers={"Host": f"{CODE}.localhost", "X-Ipai-Mail-Signature": signed_elsewhere},
        timeout=30,
    )
    assert replayed.status_code == 403, replayed.text
    assert messages_containing(rpc, "FRG-0815") == []


def send_plain(rpc, subject, sender, recipients, **values):
    """A mail.mail sent now, as Odoo's queue sends it; returns its state
    and failure reason (a sent mail is deleted: ``("sent", "")``)."""
    mail = rpc.call(
        "mail.mail",
        "create",
        {
            "subject": subject,
            "email_from": sender,
            "email_to": ",".join(recipients),
            "body_html": "<p>hello</p>",
            "auto_delete": False,
            **values,
        },
    )
    rpc.call("mail.mail", "send", [mail])
    [state] = rpc.call("mail.mail", "read", [mail], ["state", "failure_reason"])
    return state["state"], state["failure_reason"] or ""


def test_the_relay_holds_each_tenant_to_its_plans_daily_sending_limit(
    books, mailing_runtime, admin_rpc, cli, credentials_dir
):
    """A tenant on a plan of 3 recipients a day: the relay's policy service
    takes 3 and refuses the fourth, however the tenant's admin dresses it
    (another address on its host, its own mail server record pointed at
    the relay); another tenant still sends. A server of the tenant's own
    is refused on this plan; once the plan includes one, the rule against
    private addresses still holds."""
    node, folder, port = mailing_runtime
    code = "docs-quota"
    host = f"{code}.localhost"
    with temporary_plan(admin_rpc, "mail-quota", "Mail quota", "contacts", max_mails_day=3) as plan:
        provision(cli, code, "--plan", plan)
        rpc = tenant_login(node, code, credentials_dir)
        sender = f"sales@{host}"
        two = ["a@customer.example", "b@customer.example"]
        assert send_plain(rpc, "quota-1", sender, two)[0] == "sent"
        assert send_plain(rpc, "quota-2", sender, ["c@customer.example"])[0] == "sent"
        state, reason = send_plain(rpc, "quota-3", sender, ["d@customer.example"])
        assert state == "exception", reason
        assert "daily sending limit" in reason and "3 recipients a day" in reason, reason
        # Another local part of its host is the same tenant.
        state, reason = send_plain(rpc, "quota-4", f"other@{host}", ["e@customer.example"])
        assert (state, "daily sending limit" in reason) == ("exception", True), reason
        # A mail server record of its own at the relay's address is the relay.
        relay = rpc.call(
            "ir.mail_server",
            "create",
            {"name": "relay again", "smtp_host": "127.0.0.1", "smtp_port": port},
        )
        state, reason = send_plain(
            rpc, "quota-5", sender, ["f@customer.example"], mail_server_id=relay
        )
        assert (state, "daily sending limit" in reason) == ("exception", True), reason
        # Any other server of its own: not on this plan.
        outside = rpc.call(
            "ir.mail_server",
            "create",
            {"name": "own", "smtp_host": "smtp.customer.example", "smtp_port": 587},
        )
        state, reason = send_plain(
            rpc, "quota-6", sender, ["g@customer.example"], mail_server_id=outside
        )
        assert (state, "own SMTP server" in reason) == ("exception", True), reason
        caught(folder, "quota-2")
        subjects = {m["Subject"] for m in mailbox.Maildir(folder, create=False)}
        assert {"quota-1", "quota-2"} <= subjects
        assert not {"quota-3", "quota-4", "quota-5", "quota-6"} & subjects, subjects
        # Another tenant's count is its own.
        other = tenant_login(node, CODE, credentials_dir)
        assert send_plain(other, "quota-elsewhere", f"sales@{CODE}.localhost", two)[0] == "sent"
        # The plan now includes an SMTP server of the tenant's own: the
        # runtime learns it from the routing view; a private address stays
        # closed.
        [plan_id] = admin_rpc.call("ipai.tenant.plan", "search", [("code", "=", plan)])
        admin_rpc.call("ipai.tenant.plan", "write", [plan_id], {"feature_own_smtp": True})
        internal = rpc.call(
            "ir.mail_server",
            "create",
            {"name": "internal", "smtp_host": "127.0.0.1", "smtp_port": PG_PORT},
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                rpc.call("ir.mail_server", "test_smtp_connection", [internal])
            except RpcError as error:
                if "private or local address" in str(error):
                    break
                assert "own SMTP server" in str(error), error
            assert time.monotonic() < deadline, (
                "the plan's own SMTP server never reached the runtime"
            )
            time.sleep(1)


def test_a_copy_sends_nothing_until_its_owner_says_so(books, mailing_runtime, cli, credentials_dir):
    """A clone with data is neutralized: its mail fails with a reason and
    the relay receives nothing, whatever the source sent; once its owner
    archives Odoo's refusing server, it sends through the relay."""
    node, folder, _port = mailing_runtime
    copy_code = "docs-acme-copy"
    result = cli("clone", "--source", CODE, "--code", copy_code, "--data")
    assert result.returncode == 0, result.stdout + result.stderr
    copy = tenant_login(node, copy_code, credentials_dir, admin_code=CODE)
    sender = f"sales@{copy_code}.localhost"
    state, reason = send_plain(copy, "copy-quiet", sender, ["h@customer.example"])
    assert state == "exception" and reason, reason
    assert not caught(folder, "copy-quiet", timeout=2)
    # The owner says so: the neutralization's server archived.
    refusing = copy.call("ir.mail_server", "search", [("active", "=", True)])
    assert refusing, "a neutralized copy has Odoo's refusing mail server"
    copy.call("ir.mail_server", "write", refusing, {"active": False})
    assert send_plain(copy, "copy-speaks", sender, ["h@customer.example"])[0] == "sent"
    [message] = caught(folder, "copy-speaks")
    assert message["From"].endswith(f"@{copy_code}.localhost>") or copy_code in message["From"]
