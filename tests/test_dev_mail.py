"""Mail in development, as `make run` sets it up: the local mail catcher
(scripts/mail_catcher.sh) takes what the control plane sends to the SMTP
server of its configuration, nothing leaves the machine, and `make mail`
(scripts/mail.py) lists and prints what came: a new tenant's welcome mail,
greeting its administrator by name, from the platform company that
scripts/platform_identity.py named."""

import os
import subprocess
import sys
import time

import pytest

from .support import (
    LOCAL_DIR,
    ODOO_CONF,
    REPO_ROOT,
    JsonRpc,
    OdooServer,
    mail_catcher,
    paused_cron,
    provision,
    query,
)

CODE = "mail-dev"


@pytest.fixture(scope="module")
def catcher(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mail")
    with mail_catcher(folder) as port:
        yield port, folder


@pytest.fixture(scope="module")
def platform_company(admin_rpc, platform_db):
    """The platform company as a new database has it; put back after."""
    [company] = admin_rpc.call("res.company", "search_read", [], ["name", "email"], limit=1)
    admin_rpc.call("res.company", "write", [company["id"]], {"name": "My Company", "email": False})
    yield company["id"]
    admin_rpc.call(
        "res.company",
        "write",
        [company["id"]],
        {"name": company["name"], "email": company["email"]},
    )


@pytest.fixture(scope="module")
def no_mail_server_records(admin_rpc):
    """Sent as `make run` sends: by the configuration's SMTP server."""
    active = admin_rpc.call("ir.mail_server", "search", [("active", "=", True)])
    admin_rpc.call("ir.mail_server", "write", active, {"active": False})
    yield
    admin_rpc.call("ir.mail_server", "write", active, {"active": True})


def mail_listing(folder, *args):
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "mail.py"), "--dir", str(folder), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def named_platform(platform_company, platform_db):
    """scripts/platform_identity.py run twice, as `make run` would on a new
    platform database and then on an existing one."""
    env = {**os.environ, "IPAI_PLATFORM_NAME": "Dev Platform", "IPAI_PLATFORM_EMAIL": "hq@dev.test"}
    command = [
        str(REPO_ROOT / ".venv" / "bin" / "click-odoo"),
        "-c",
        str(ODOO_CONF),
        "-d",
        platform_db,
        str(REPO_ROOT / "scripts" / "platform_identity.py"),
    ]
    outputs = []
    for _ in range(2):
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        outputs.append(result.stdout)
    return platform_company, outputs


def test_the_platform_company_gets_a_name_and_a_sender_once(named_platform, platform_db):
    company, (first, second) = named_platform
    assert "platform company: Dev Platform <hq@dev.test>" in first
    assert "platform company" not in second, "a named company is left alone"
    assert query(platform_db, "SELECT name, email FROM res_company WHERE id = %s", [company]) == [
        ("Dev Platform", "hq@dev.test")
    ]


def test_the_welcome_mail_lands_in_the_catcher_and_make_mail_shows_it(
    catcher, named_platform, no_mail_server_records, cli, platform_db, admin_password
):
    port, folder = catcher
    assert "no mail caught yet" in mail_listing(folder)
    sender = OdooServer(
        platform_db,
        LOCAL_DIR / "logs" / f"{platform_db}-dev-mail.log",
        platform_db=platform_db,
        cron_threads=0,
        options={"smtp_server": "127.0.0.1", "smtp_port": str(port)},
    ).start()
    try:
        rpc = JsonRpc(sender.url, platform_db, "admin", admin_password)
        with paused_cron(platform_db, "ir_cron_mail_scheduler_action", module="mail"):
            provision(cli, CODE, "--admin-name", "Ada Lovelace")
            deadline = time.monotonic() + 60
            while f"admin@{CODE}.example" not in mail_listing(folder):
                assert time.monotonic() < deadline, "no welcome mail reached the catcher"
                rpc.call("mail.mail", "process_email_queue")
                time.sleep(0.5)
    finally:
        sender.stop()
    listing = mail_listing(folder)
    assert f"Your workspace {CODE} is ready" in listing
    number = next(
        line.split()[0] for line in listing.splitlines() if f"admin@{CODE}.example" in line
    )
    shown = mail_listing(folder, "--show", number)
    assert "From: Dev Platform <hq@dev.test>" in shown, shown
    assert "Hello Ada Lovelace," in shown
