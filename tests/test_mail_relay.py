"""The cell's outgoing mail relay as production runs it: Debian's Postfix with
deploy/postfix's configuration (scripts/mail_relay.sh), asking the cell's
mail policy service (scripts/mail_policy.py) about each message. A tenant
sends up to its plan's daily limit and no further; the platform's own mail
is not counted; with the policy service unreachable nothing leaves
unchecked. The relay delivers to the tests' mail catcher, standing in for
the operator's provider.

That the tenant runtime sends only through the relay, from its own hosts,
is tests/test_documents.py's part."""

import contextlib
import mailbox
import shutil
import smtplib
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from .support import (
    REPO_ROOT,
    free_port,
    listening_process,
    mail_catcher,
    mail_policy,
    provision,
    temporary_plan,
)

CODE = "relay-quota"
HOST = f"{CODE}.localhost"


@contextlib.contextmanager
def relay(catcher_port, policy_port):
    """Postfix on a free port, relaying to the catcher; yields its port.
    Its state lies outside pytest's private temporary folder: Postfix's
    daemons run as the postfix user, which must reach the queue."""
    state_dir = Path(tempfile.mkdtemp(prefix="ipai-postfix-"))
    state_dir.chmod(0o755)
    port = free_port()
    command = [
        str(REPO_ROOT / "scripts" / "mail_relay.sh"),
        str(port),
        str(state_dir),
        f"127.0.0.1:{catcher_port}",
        f"127.0.0.1:{policy_port}",
    ]
    try:
        with listening_process(command, port, "postfix"):
            yield port
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def outgoing(platform_db, tmp_path_factory):
    folder = tmp_path_factory.mktemp("relay-mail")
    with (
        mail_catcher(folder) as catcher_port,
        mail_policy(platform_db, tmp_path_factory.mktemp("relay-policy")) as policy_port,
        relay(catcher_port, policy_port) as port,
    ):
        yield port, folder, catcher_port


def message(sender, recipients, subject):
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Subject"] = subject
    mail.set_content("hello")
    return mail


def send(port, sender, recipients, subject):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.send_message(message(sender, recipients, subject), sender, recipients)


def delivered(folder, subject, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in mailbox.Maildir(folder, create=False) if m["Subject"] == subject]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_the_relay_holds_a_tenant_to_its_plans_daily_limit(outgoing, admin_rpc, cli):
    port, folder, _catcher = outgoing
    with temporary_plan(admin_rpc, "relay-two", "Two a day", "contacts", max_mails_day=2) as plan:
        provision(cli, CODE, "--plan", plan)
        send(port, f"bounce@{HOST}", ["a@customer.example", "b@customer.example"], "relay-1")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send(port, f"news@{HOST}", ["c@customer.example"], "relay-2")
        assert refused.value.smtp_code == 550, refused.value
        text = refused.value.smtp_error.decode()
        assert "daily sending limit" in text and "2 recipients a day" in text, text
        # The platform's own mail is not a tenant's: not counted.
        send(port, "notifications@localhost", ["d@customer.example"], "relay-platform")
        assert delivered(folder, "relay-1") and delivered(folder, "relay-platform")
        assert not delivered(folder, "relay-2", timeout=2)


def test_nothing_leaves_unchecked_when_the_policy_service_is_down(outgoing):
    _port, folder, catcher_port = outgoing
    nobody = free_port()  # no policy service listens there
    with relay(catcher_port, nobody) as port, pytest.raises(smtplib.SMTPDataError) as deferred:
        send(port, f"bounce@{HOST}", ["e@customer.example"], "relay-unchecked")
    assert 400 <= deferred.value.smtp_code < 500, deferred.value
    assert not delivered(folder, "relay-unchecked", timeout=2)
