"""The provisioning engine as plain Python: no PostgreSQL, no registry.

Steps get a frozen spec and return an outcome, so they run here on specs
built by hand, with the engine's PostgreSQL, filestore and tenant-database
functions replaced by fakes that record what they were asked. Any attempt
to open a real connection fails the test."""

import psycopg2
import pytest
from odoo.addons.ipai_tenant_core.infra import crypto, pg
from odoo.addons.ipai_tenant_data_safety.provisioning import backups
from odoo.addons.ipai_tenant_engine.provisioning import (
    filestore,
    operations,
    pool,
    runtime_access,
    templates,
    tenant_db,
)

from .builders import owned


@pytest.fixture(scope="session", autouse=True)
def load_registry():
    """pytest-odoo's fixture of that name loads a registry for every test
    session; these tests need none, and run where no database exists."""
    yield


@pytest.fixture(autouse=True)
def no_database(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("an engine unit test tried to connect to PostgreSQL")

    monkeypatch.setattr(psycopg2, "connect", refuse)
    monkeypatch.setattr(pg.Server, "connect", refuse)


class FakePg:
    """The databases, roles and files of a fake cluster; every change is
    recorded in ``calls``."""

    def __init__(self):
        self.marks = {}  # database -> owner mark ("" when unmarked)
        self.roles = set()
        self.calls = []

    def mark_of(self, _server, name):
        return self.marks.get(name)

    def record(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, *[a for a in args if not isinstance(a, pg.Server)]))
            return kwargs.get("default")

        return call

    def names(self):
        return [call[0] for call in self.calls]


@pytest.fixture
def fake_pg(monkeypatch):
    fake = FakePg()
    monkeypatch.setattr(pg, "owner_mark", owned)
    monkeypatch.setattr(pg, "database_mark", fake.mark_of)
    monkeypatch.setattr(pg, "database_exists", lambda _s, name: name in fake.marks)
    monkeypatch.setattr(pg, "role_exists", lambda _s, role: role in fake.roles)
    monkeypatch.setattr(pg, "database_size", lambda _s, _name: 4096)

    def create_database_from(_server, name, source):
        fake.calls.append(("create_database_from", name, source))
        fake.marks[name] = ""

    def mark_database(_server, name, mark):
        fake.calls.append(("mark_database", name, mark))
        fake.marks[name] = owned(mark)

    def drop_database(_server, name):
        fake.calls.append(("drop_database", name))
        fake.marks.pop(name, None)

    def drop_role(_server, role):
        fake.calls.append(("drop_role", role))
        fake.roles.discard(role)

    def ensure_login_role(_server, role, _password):
        fake.calls.append(("ensure_login_role", role))
        fake.roles.add(role)

    monkeypatch.setattr(pg, "create_database_from", create_database_from)
    monkeypatch.setattr(pg, "mark_database", mark_database)
    monkeypatch.setattr(pg, "drop_database", drop_database)
    monkeypatch.setattr(pg, "drop_role", drop_role)
    monkeypatch.setattr(pg, "ensure_login_role", ensure_login_role)
    for name in ("hand_over", "restrict_connect", "ensure_schema", "rename_database"):
        monkeypatch.setattr(pg, name, fake.record(name))
    for name in ("remove", "copy", "move"):
        monkeypatch.setattr(filestore, name, fake.record(f"filestore.{name}"))
    monkeypatch.setattr(filestore, "path", lambda db: f"/filestore/{db}")
    monkeypatch.setattr(runtime_access, "ensure_owned_role", fake.record("ensure_owned_role"))
    monkeypatch.setattr(
        runtime_access, "as_role", lambda server, role, cell=None: pg.Server(None, None, role)
    )
    for name in ("reset_identity", "push_tenant_config", "set_admin", "neutralize"):
        monkeypatch.setattr(tenant_db, name, fake.record(f"tenant_db.{name}"))
    monkeypatch.setattr(
        tenant_db,
        "password_reset_url",
        lambda _s, _db, base_url, hours: f"{base_url}/reset?hours={hours}",
    )
    monkeypatch.setattr(crypto, "new_password", lambda nbytes=18: "new-password")
    monkeypatch.setattr(crypto, "decrypt", lambda token: f"plain({token})")
    monkeypatch.setattr(crypto, "ensure_key", lambda: None)
    monkeypatch.setattr(operations, "_start_admin_password", lambda _job_id: None)
    monkeypatch.setattr(
        operations, "_take_admin_password", lambda _job_id: ("admin-password", "hash")
    )
    monkeypatch.setattr(pool, "remove", fake.record("pool.remove"))
    monkeypatch.setattr(templates, "build", fake.record("templates.build"))
    monkeypatch.setattr(templates, "odoo_modules", fake.record("templates.odoo_modules"))
    monkeypatch.setattr(backups, "take", fake.record("backups.take"))
    monkeypatch.setattr(backups, "verify", fake.record("backups.verify"))
    return fake


@pytest.fixture
def server():
    return pg.Server(host=None, port=None, user="ipai")


@pytest.fixture
def context(server):
    """A step context for a job spec (the template catalog left out)."""

    def make(spec, catalog=None):
        return operations.StepContext(spec=spec, server=server, catalog=catalog)

    return make
