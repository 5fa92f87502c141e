"""Helpers for the integration tests: real PostgreSQL databases, real Odoo
server processes, JSON-RPC clients. No mocks."""

import base64
import configparser
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path

import psycopg2
import requests
from psycopg2 import sql

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = REPO_ROOT / ".local"
# Everything a test run creates is named after it, so that the run's cleanup
# (conftest.py and scripts/test.sh) finds it all.
RUN_ID = os.environ.get("IPAI_TEST_RUN_ID", f"ipai_test_{os.getpid()}")
TENANT_DB_PREFIX = f"{RUN_ID}_t_"
ODOO_CONF = Path(os.environ.get("IPAI_ODOO_CONF", LOCAL_DIR / "odoo.conf"))
FILESTORE = LOCAL_DIR / "data" / "filestore"
ARTIFACTS = LOCAL_DIR / "artifacts"
BACKUPS = LOCAL_DIR / "data" / "backups"
# Addons that exist for the tests only (e.g. an upgrade made to fail): on the
# addons path of the Odoo processes and command lines the tests start.
TEST_ADDONS = REPO_ROOT / "tests" / "addons"


def _with_test_addons(parser):
    options = parser["options"]
    paths = [path.strip() for path in options.get("addons_path", "").split(",") if path.strip()]
    if str(TEST_ADDONS) not in paths:
        paths.append(str(TEST_ADDONS))
    options["addons_path"] = ",".join(paths)


def _write_private(path, parser):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        parser.write(handle)
    return path


def odoo_conf_with_test_addons():
    """ODOO_CONF with the test-only addons on its addons path."""
    parser = configparser.RawConfigParser()
    parser.read(ODOO_CONF)
    _with_test_addons(parser)
    return _write_private(LOCAL_DIR / "odoo-test.conf", parser)


def odoo_bin():
    return Path((LOCAL_DIR / "odoo-src-path").read_text().strip()) / "odoo-bin"


def _pg_settings():
    return {
        "user": os.environ.get("IPAI_DB_USER", "ipai"),
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": int(os.environ.get("PGPORT", "5432")),
    }


def pg_connect(dbname="postgres"):
    conn = psycopg2.connect(dbname=dbname, **_pg_settings())
    conn.autocommit = True
    return conn


def connect_as(database, role, password, host=None, port=None):
    """A connection as ``role``, as anyone holding its password would open
    one (to the database server, or to ``host:port``: PgBouncer)."""
    return psycopg2.connect(
        dbname=database,
        user=role,
        password=password,
        host=host or os.environ.get("PGHOST", "127.0.0.1"),
        port=port or os.environ.get("PGPORT", "5432"),
        connect_timeout=5,
    )


def newest_pg_version():
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    return versions[-1].parent.parent.name if versions else None


@contextlib.contextmanager
def pg_cluster(label, unavailable=None):
    """A PostgreSQL cluster of its own (another database server, as a fleet
    has) made with Debian's pg_createcluster on a free port, trust on
    loopback, as it comes otherwise: no platform role, its databases open to
    PUBLIC. Dropped after. Yields version, name and port. Where none can be
    made, ``unavailable(reason)`` is called (a test is skipped)."""
    version = newest_pg_version()
    if os.geteuid() != 0 or not shutil.which("pg_createcluster") or not version:
        if unavailable is None:
            import pytest

            unavailable = pytest.skip
        unavailable("needs root and Debian's pg_createcluster to make a second cluster")
    name, port = f"ipai-{label}-{os.getpid()}", free_port()
    subprocess.run(
        [
            "pg_createcluster",
            version,
            name,
            "-p",
            str(port),
            "--start",
            "--",
            "--auth-local=trust",
            "--auth-host=trust",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield {"version": version, "name": name, "port": port}
    finally:
        subprocess.run(
            ["pg_dropcluster", version, name, "--stop"], check=False, capture_output=True
        )


@contextlib.contextmanager
def pg_standby(primary, label):
    """A streaming replica of the cluster ``primary`` (a ``pg_cluster``): a
    hot standby made with pg_basebackup -R from it, replaying its WAL, on a
    free port of its own; dropped after. Yields version, name and port."""
    version, port = primary["version"], free_port()
    name = f"ipai-{label}-{os.getpid()}"
    subprocess.run(
        ["pg_createcluster", version, name, "-p", str(port), "--",
         "--auth-local=trust", "--auth-host=trust"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    try:
        # Emptied, not removed: pg_basebackup fills it as the postgres user.
        data_dir = Path("/var/lib/postgresql") / version / name
        for entry in data_dir.iterdir():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        subprocess.run(
            ["runuser", "-u", "postgres", "--", "pg_basebackup", "-h", "127.0.0.1",
             "-p", str(primary["port"]), "-U", "postgres", "-D", str(data_dir),
             "-R", "-X", "stream", "-c", "fast"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        subprocess.run(["pg_ctlcluster", version, name, "start"], check=True, capture_output=True)
        yield {"version": version, "name": name, "port": port}
    finally:
        subprocess.run(
            ["pg_dropcluster", version, name, "--stop"], check=False, capture_output=True
        )


def on_cluster(cluster, statement, params=None, dbname="postgres"):
    """``statement`` run on ``cluster`` as its superuser; its rows."""
    with closing(
        psycopg2.connect(host="127.0.0.1", port=cluster["port"], user="postgres", dbname=dbname)
    ) as conn:
        conn.autocommit = True
        with conn.cursor() as cr:
            cr.execute(statement, params)
            return cr.fetchall() if cr.description else None


def database_exists(name):
    with closing(pg_connect()) as conn, conn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return bool(cr.fetchone())


def copy_database(template, target, connect_roles=()):
    """A full copy (database + filestore) of ``template``, as Odoo's own
    duplicate does, in a fraction of an install's time; like every database
    of the platform, closed to PUBLIC (``connect_roles`` may connect) by the
    platform's own pg.restrict_connect."""
    from odoo.addons.ipai_tenant_core.infra import pg

    with closing(pg_connect()) as conn, conn.cursor() as cr:
        cr.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(target), sql.Identifier(template)
            )
        )
    pg.restrict_connect(pg.Server(**_pg_settings()), target, *connect_roles)
    if (FILESTORE / template).is_dir():
        shutil.copytree(FILESTORE / template, FILESTORE / target)


def drop_run_leftovers(run_id):
    """Drop every database, role and filestore named after this test run."""
    with closing(pg_connect()) as conn, conn.cursor() as cr:
        cr.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [run_id + "\\_%"])
        databases = [row[0] for row in cr.fetchall()]
        cr.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", [run_id + "\\_%"])
        roles = [row[0] for row in cr.fetchall()]
    for name in databases:
        drop_database(name)
    with closing(pg_connect()) as conn, conn.cursor() as cr:
        for role in roles:
            cr.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def set_params(dbname, params):
    with closing(pg_connect(dbname)) as conn, conn.cursor() as cr:
        for key, value in params.items():
            cr.execute(
                """INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)
                   ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value""",
                [key, value],
            )


def route_tenants_to(platform_db, server):
    """Tenant URLs point at ``server`` (a tenant runtime), and the control
    plane's smoke checks reach it there."""
    set_params(
        platform_db,
        {
            "ipai_tenant_core.public_port": str(server.port),
            "ipai_tenant_core.runtime_url": server.url,
        },
    )


def query(dbname, statement, params=None):
    with closing(pg_connect(dbname)) as conn, conn.cursor() as cr:
        cr.execute(statement, params)
        return cr.fetchall() if cr.description else None


def drop_database(name):
    with closing(pg_connect()) as conn, conn.cursor() as cr:
        cr.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    shutil.rmtree(FILESTORE / name, ignore_errors=True)


def install_database(name, modules):
    subprocess.run(
        [
            sys.executable,
            str(odoo_bin()),
            "-c",
            str(ODOO_CONF),
            "-d",
            name,
            "-i",
            modules,
            "--stop-after-init",
            "--workers=0",
            "--max-cron-threads=0",
            "--log-level=warn",
        ],
        check=True,
    )


def set_admin_password(dbname, password):
    subprocess.run(
        [
            str(Path(sys.executable).parent / "click-odoo"),
            "-c",
            str(ODOO_CONF),
            "-d",
            dbname,
            str(REPO_ROOT / "scripts" / "set_admin_password.py"),
        ],
        check=True,
        env={**os.environ, "IPAI_ADMIN_PASSWORD": password},
    )


def free_port():
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def await_listening(port, process, what, timeout=10):
    """Returns once 127.0.0.1:``port`` accepts connections; an error when
    ``process`` exits first or ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited early")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen within {timeout}s")


def _script_command(script, platform_db, args, conf=ODOO_CONF, subcommand=()):
    return [
        sys.executable,
        str(REPO_ROOT / "scripts" / script),
        *subcommand,
        "-c",
        str(conf),
        "-d",
        platform_db,
        *args,
    ]


def _cli_command(platform_db, args):
    return _script_command(
        "tenants.py", platform_db, args[1:], odoo_conf_with_test_addons(), args[:1]
    )


def _run(command, env=None, timeout=600):
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )


def run_script(script, platform_db, *args, env=None, timeout=600):
    """Run ``scripts/<script>`` (api_key.py, bill_tenants.py, ...) against
    ``platform_db`` as an operator would."""
    return _run(_script_command(script, platform_db, args), env, timeout)


def run_platform_cli(*args, env=None, timeout=600):
    """scripts/tenants.py on the local platform database with its own
    configuration (IPAI_PLATFORM_DB, IPAI_ODOO_CONF), as the `make` targets
    and the benchmarks run it."""
    command = _script_command(
        "tenants.py", os.environ["IPAI_PLATFORM_DB"], args[1:], ODOO_CONF, args[:1]
    )
    return _run(command, env, timeout)


def run_cli(platform_db, *args, env=None, timeout=600):
    """Run scripts/tenants.py against ``platform_db`` as an operator would."""
    return _run(_cli_command(platform_db, args), env, timeout)


class run_cli_process(subprocess.Popen):
    """scripts/tenants.py started in the background (two runners at once)."""

    def __init__(self, platform_db, *args, env=None):
        super().__init__(
            _cli_command(platform_db, args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
        )

    def wait_result(self, timeout=600):
        stdout, stderr = self.communicate(timeout=timeout)
        return subprocess.CompletedProcess(self.args, self.returncode, stdout, stderr)


# What the tenant runtime's process may see of the environment: no platform
# role password, Fernet key, master or Superset admin password; its cell's
# code and secret are added (cell_environment), never the master.
RUNTIME_ENVIRONMENT = ("PATH", "HOME", "LANG", "PGHOST", "PGPORT")
# The default cell's routing role (a machine may rename it, as
# render_odoo_conf does from IPAI_RUNTIME_ROLE).
RUNTIME_ROLE = os.environ.get("IPAI_RUNTIME_ROLE") or "ipai_runtime"
DEFAULT_CELL = "main"


def cell_environment(cell):
    """What a node of ``cell`` is given (make cell-env CELL=<cell>): derived
    here from the master this test process holds as the control plane does."""
    from odoo.addons.ipai_tenant_runtime import credentials

    return {
        credentials.CELL_VARIABLE: cell,
        credentials.CELL_SECRET_VARIABLE: credentials.cell_secret(cell),
    }


TENANT_RUNTIME_MAXCONN = "8"
# As scripts/render_odoo_conf.py writes them: sessions in the store every
# node of the tenant runtime shares (OCA session_db).
TENANT_SERVER_WIDE_MODULES = "base,web,session_db,ipai_tenant_runtime"


class ServedProcess:
    """A server the tests start: ``process`` answering ``/web/health`` at
    ``url``, its output in ``log_path``."""

    stop_grace = 30

    def __init__(self, log_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = None

    def launch(self, command, env, **popen):
        """Start ``command``, its output in ``log_path``."""
        log = open(self.log_path, "wb")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, **popen
        )

    def await_ready(self, what, timeout, interval, ready):
        """``self`` once ``ready()`` is true; stopped and an error naming the
        log when the process exits or ``timeout`` runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{what} exited early, see {self.log_path}")
            with contextlib.suppress(requests.ConnectionError, OSError):
                if ready():
                    return self
            time.sleep(interval)
        self.stop()
        raise RuntimeError(f"{what} did not answer within {timeout}s, see {self.log_path}")

    def await_health(self, what, timeout, interval):
        """``self`` once ``/web/health`` answers 200."""

        def healthy():
            return requests.get(f"{self.url}/web/health", timeout=5).status_code == 200

        return self.await_ready(what, timeout, interval, healthy)

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=self.stop_grace)
            except subprocess.TimeoutExpired:
                self.kill()


class OdooServer(ServedProcess):
    """A real Odoo server process (prefork, like production) on a free port.

    ``runtime``: "platform" (the control plane: the platform database on the
    platform host names), "tenant" (the tenant runtime: tenant databases by
    host name, each with its own role, without any platform secret), or None
    (plain Odoo, databases picked by ``db_filter``). ``data_dir``: a folder
    of its own (another node of the runtime, as on another machine); the
    process runs in a process group of its own, so ``kill`` takes it all."""

    def __init__(
        self,
        dbname,
        log_path,
        db_filter=None,
        platform_db=None,
        runtime=None,
        workers=2,
        cron_threads=1,
        data_dir=None,
        cell=DEFAULT_CELL,
        options=None,
        environment=None,
    ):
        super().__init__(log_path)
        self.dbname = dbname
        # A tenant runtime node serves this cell (its secret, its routing role).
        self.cell = cell
        # Config options and environment variables of this server's own.
        self.options = options or {}
        self.extra_environment = environment or {}
        self.db_filter = db_filter or f"^{dbname}$"
        self.platform_db = platform_db
        self.runtime = runtime or ("platform" if platform_db else None)
        self.workers = workers  # 0: threaded mode
        self.cron_threads = cron_threads
        # Where Odoo serves websockets in prefork mode (its gevent process).
        self.gevent_port = free_port()
        self.data_dir = data_dir

    def _config_file(self):
        parser = configparser.RawConfigParser()
        parser.read(ODOO_CONF)
        _with_test_addons(parser)
        options = parser["options"]
        if self.runtime:
            options["ipai_platform_db"] = self.platform_db
            options["ipai_runtime"] = self.runtime
        else:
            options.pop("ipai_platform_db", None)
            options.pop("ipai_runtime", None)
        if self.runtime == "tenant":
            from odoo.addons.ipai_platform_rules import cells

            if self.cell != DEFAULT_CELL:
                # Another cell's names; the default cell's may be renamed.
                options["ipai_runtime_role"] = cells.routing_role(self.cell)
                options["ipai_session_db"] = cells.session_store(self.cell)
            options["db_user"] = options.get("ipai_runtime_role") or cells.routing_role(self.cell)
            options.pop("admin_passwd", None)
            # One pool per tenant role: keep each process's share of the
            # cluster's connection slots small (as render_odoo_conf does).
            options["db_maxconn"] = TENANT_RUNTIME_MAXCONN
            options["server_wide_modules"] = TENANT_SERVER_WIDE_MODULES
        if self.data_dir:
            options["data_dir"] = str(self.data_dir)
        for name, value in self.options.items():
            options[name] = str(value)
        return _write_private(self.log_path.with_suffix(".conf"), parser)

    def _environment(self):
        if self.runtime != "tenant":
            return None
        environment = {key: os.environ[key] for key in RUNTIME_ENVIRONMENT if key in os.environ}
        return {**environment, **cell_environment(self.cell), **self.extra_environment}

    def host_url(self, host):
        """The URL of ``host`` on this server, for a browser (Chromium
        resolves every *.localhost name to the loopback address)."""
        return f"http://{host}:{self.port}"

    def start(self, timeout=90):
        config_file = self._config_file()
        self.launch(
            [
                sys.executable,
                str(odoo_bin()),
                "-c",
                str(config_file),
                *(["-d", self.dbname] if self.dbname else []),
                f"--db-filter={self.db_filter}",
                f"--http-port={self.port}",
                f"--gevent-port={self.gevent_port}",
                f"--workers={self.workers}",
                f"--max-cron-threads={self.cron_threads}",
            ],
            self._environment(),
            start_new_session=True,
        )
        self.await_health("Odoo", timeout, interval=0.5)
        if self.workers:
            # Prefork: websockets are the gevent process's, which the master
            # starts next to its workers (often after /web/health answers).
            await_listening(
                self.gevent_port, self.process, f"Odoo's gevent process ({self.log_path})"
            )
        return self

    def kill(self):
        """kill -9 of every process of this server at once, as a machine
        that dies takes them all."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def stock_odoo(dbname):
    """A plain Odoo 18 on ``dbname``: Odoo's own addons only, none of the
    platform's, no server-wide module of ours (not started yet)."""
    source = odoo_bin().parent
    return OdooServer(
        dbname,
        LOCAL_DIR / "logs" / f"{dbname}.log",
        cron_threads=0,
        options={
            "server_wide_modules": "base,web",
            "addons_path": f"{source / 'odoo' / 'addons'},{source / 'addons'}",
        },
    )


def tenant_runtime(platform_db, label, **options):
    """A tenant runtime server (not started yet) routed from ``platform_db``,
    its log in .local/logs/<platform_db>-<label>.log."""
    log_path = LOCAL_DIR / "logs" / f"{platform_db}-{label}.log"
    return OdooServer(None, log_path, platform_db=platform_db, runtime="tenant", **options)


@contextlib.contextmanager
def runtime_nodes(platform_db, tmp_path_factory, label, cron_threads=0):
    """Two more nodes "a" and "b" of the tenant runtime, as on two machines:
    each on its own port with its own data directory, one HTTP worker and a
    gevent process; stopped after."""
    started = []
    try:
        for name in ("a", "b"):
            node = tenant_runtime(
                platform_db,
                f"{label}-{name}",
                workers=1,
                cron_threads=cron_threads,
                data_dir=tmp_path_factory.mktemp(f"{label}-{name}-data"),
            )
            started.append(node.start())
        yield started
    finally:
        for node in started:
            node.stop()


class Proxy(ServedProcess):
    """The reverse proxy in front of both runtimes, started as `make run`
    starts it: scripts/proxy.sh, Caddy with the compose stack's Caddyfile, on
    a free loopback port. The platform host names (localhost, 127.0.0.1)
    reach ``platform``, every other host ``tenants`` (a tenant runtime
    server, or a list of its nodes)."""

    stop_grace = 10

    def __init__(self, platform, tenants, log_path, state_dir):
        super().__init__(log_path)
        self.platform = platform
        self.tenants = tenants if isinstance(tenants, list) else [tenants]
        self.state_dir = state_dir

    def start(self, timeout=30):
        self.launch(
            [
                str(REPO_ROOT / "scripts" / "proxy.sh"),
                str(self.port),
                f"127.0.0.1:{self.platform.port}",
                f"127.0.0.1:{self.platform.gevent_port}",
                " ".join(f"127.0.0.1:{node.port}" for node in self.tenants),
                " ".join(f"127.0.0.1:{node.gevent_port}" for node in self.tenants),
            ],
            {**os.environ, "IPAI_PROXY_STATE": str(self.state_dir)},
        )
        return self.await_health("Caddy", timeout, interval=0.2)


S3_VENV = Path(os.environ.get("IPAI_S3_VENV", REPO_ROOT / ".venv-s3"))


class S3Server(ServedProcess):
    """A real S3-compatible server (moto's, from its own venv: its Flask
    stack would replace Odoo's Werkzeug) on a free loopback port, that
    authenticates every request and enforces IAM policies once its admin
    exists (INITIAL_NO_AUTH_ACTION_COUNT: the first calls make that admin).
    `make run` does not start one yet (docs/architecture.md, "Attachments
    off the node")."""

    stop_grace = 10

    def __init__(self, log_path):
        super().__init__(log_path)
        self.admin = None

    def start(self, timeout=30):
        from odoo.addons.ipai_tenant_engine.provisioning import object_store_admin

        self.launch(
            [
                str(S3_VENV / "bin" / "python"),
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                str(self.port),
            ],
            {
                "PATH": os.environ.get("PATH", ""),
                "INITIAL_NO_AUTH_ACTION_COUNT": str(object_store_admin.BOOTSTRAP_CALLS),
            },
        )
        self.await_ready("the S3 server", timeout, 0.2, self._answers)
        self.admin = (self.url, *object_store_admin.bootstrap_admin(self.url))
        return self

    def _answers(self):
        requests.get(f"{self.url}/moto-api/", timeout=5)
        return True


class PgBouncer(ServedProcess):
    """PgBouncer in front of the test cluster, started as `make run` starts
    it (scripts/pgbouncer.py) on a free loopback port, its user list read
    from ``platform_db``'s routing view."""

    stop_grace = 10

    def __init__(self, platform_db, log_path):
        super().__init__(log_path)
        self.platform_db = platform_db
        settings = _pg_settings()
        self.server = f"{settings['host']}:{settings['port']}"
        # Under /tmp, not pytest's private folder: PgBouncer drops root and
        # must reach its files.
        self.state_dir = Path(tempfile.mkdtemp(prefix="ipai-pgbouncer-"))

    @property
    def poolers_option(self):
        """The tenant runtime's ``ipai_db_poolers`` for this PgBouncer."""
        return f"{self.server}=127.0.0.1:{self.port}"

    def start(self, timeout=30):
        self.launch(
            [
                sys.executable,
                str(REPO_ROOT / "scripts" / "pgbouncer.py"),
                f"--port={self.port}",
                f"--server={self.server}",
                f"--platform-db={self.platform_db}",
                f"--runtime-role={RUNTIME_ROLE}",
                f"--state-dir={self.state_dir}",
                # The test cluster's 100 slots are shared by every server of
                # the run: few platform backends, idle ones closed soon.
                "--platform-pool-size=8",
                "--server-idle-timeout=5",
            ],
            # What the default cell's nodes hold, never the master.
            {
                **{key: os.environ[key] for key in RUNTIME_ENVIRONMENT if key in os.environ},
                **cell_environment(DEFAULT_CELL),
            },
        )
        return self.await_ready("PgBouncer", timeout, 0.2, self._listening)

    def _listening(self):
        with socket.create_connection(("127.0.0.1", self.port), 1):
            return True

    def stop(self):
        super().stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)


def control_plane(platform_db, log_suffix=""):
    """A started control-plane server: the platform database only, on
    127.0.0.1; several on one database act as one platform."""
    log_path = LOCAL_DIR / "logs" / f"{platform_db}{log_suffix}.log"
    return OdooServer(platform_db, log_path, platform_db=platform_db).start()


class RpcError(Exception):
    def __init__(self, error):
        data = error.get("data", {})
        super().__init__(data.get("message") or error.get("message"))
        self.name = data.get("name", "")


class JsonRpc:
    """A logged-in web session talking JSON-RPC to /web/dataset/call_kw,
    exactly as the web client does."""

    def __init__(self, url, dbname, login, password, host=None):
        self.url = url
        self.host = host
        self.session = requests.Session()
        if host:
            # What a reverse proxy would send for https://<host>/.
            self.session.headers["Host"] = host
        result = self._post(
            "/web/session/authenticate", {"db": dbname, "login": login, "password": password}
        )
        self.uid = result["uid"]
        self.db = result.get("db")

    def _post(self, path, params):
        response = self.session.post(
            f"{self.url}{path}",
            json={"jsonrpc": "2.0", "method": "call", "params": params},
            timeout=60,
        )
        response.raise_for_status()
        payload = response.json()
        if "error" in payload:
            raise RpcError(payload["error"])
        # A method returning None answers without a result.
        return payload.get("result")

    def call(self, model, method, *args, **kwargs):
        return self._post(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )


def post_invoice(rpc, customer_id, lines):
    """A customer invoice of ``lines`` (label, quantity, unit price), made
    and posted as a tenant's accountant does; returns its id."""
    invoice = rpc.call(
        "account.move",
        "create",
        {
            "move_type": "out_invoice",
            "partner_id": customer_id,
            "invoice_line_ids": [
                (0, 0, {"name": label, "quantity": quantity, "price_unit": price})
                for label, quantity, price in lines
            ],
        },
    )
    rpc.call("account.move", "action_post", [invoice])
    return invoice


@contextlib.contextmanager
def temporary_plan(admin_rpc, code, name, module, **values):
    """A plan of the test's own offering ``module`` (and ``values``: its
    limits), archived when the block ends."""
    [module_id] = admin_rpc.call("ir.module.module", "search", [("name", "=", module)])
    plan_id = admin_rpc.call(
        "ipai.tenant.plan",
        "create",
        {"code": code, "name": name, "module_ids": [(6, 0, [module_id])], **values},
    )
    try:
        yield code
    finally:
        admin_rpc.call("ipai.tenant.plan", "write", [plan_id], {"active": False})


def provider_tenant(admin_rpc, code, name):
    """A provider tenant (draft) on the reseller plan, under the platform."""
    platform_id = admin_rpc.call("ipai.tenant", "search", [("code", "=", "platform")])[0]
    reseller = admin_rpc.call("ipai.tenant.plan", "search", [("code", "=", "provider")])[0]
    return admin_rpc.call(
        "ipai.tenant",
        "create",
        {
            "plan_id": reseller,
            "code": code,
            "name": name,
            "tenant_type": "provider",
            "parent_id": platform_id,
        },
    )


def provider_manager(admin_rpc, server, provider_id, login, role="admin"):
    """A member of the provider group with ``role`` on ``provider_id`` (as
    platform staff would make one), logged in to the platform over JSON-RPC;
    its password is ``<login>-pass``."""
    make_user(admin_rpc, login, provider_id, role)
    return JsonRpc(server.url, server.dbname, login, f"{login}-pass")


def provider_with_manager(admin_rpc, server, code, name, login):
    """A provider tenant (``provider_tenant``) and an administrator of it
    logged in over JSON-RPC (``provider_manager``): ``(provider_id, rpc)``."""
    provider_id = provider_tenant(admin_rpc, code, name)
    return provider_id, provider_manager(admin_rpc, server, provider_id, login)


class LoopbackDns:
    """A DNS server on loopback, answering the TXT records a test publishes
    (NXDOMAIN for anything else): what a tenant does at its DNS provider to
    prove it owns a domain. The platform is pointed at it through the
    ipai_tenant_core.dns_resolver parameter."""

    def __init__(self):
        self.records = {}
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True, name="loopback-dns").start()

    def publish_txt(self, name, value):
        self.records.setdefault(name.rstrip(".").lower(), []).append(value)

    def _serve(self):
        import dns.message
        import dns.rcode
        import dns.rdatatype
        import dns.rrset

        while True:
            data, client = self.socket.recvfrom(4096)
            try:
                query = dns.message.from_wire(data)
            except Exception:
                continue
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            values = self.records.get(name)
            if question.rdtype == dns.rdatatype.TXT and values:
                response.answer.append(
                    dns.rrset.from_text_list(
                        question.name, 60, "IN", "TXT", [f'"{value}"' for value in values]
                    )
                )
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.socket.sendto(response.to_wire(), client)


# ------------------------------------------------------- provisioning helpers


def admin_password(credentials_dir, code):
    lines = (Path(credentials_dir) / f"{code}-admin.txt").read_text().splitlines()
    return lines[2].split(": ", 1)[1]


def tenant_row(platform_db, code):
    rows = query(
        platform_db, "SELECT state, database_name, db_role FROM ipai_tenant WHERE code = %s", [code]
    )
    return rows[0] if rows else None


def tenant_login(server, code, credentials_dir, admin_code=None, timeout=0):
    """Log in as the tenant's admin through the tenant's own host name. With
    a ``timeout``, a tenant just back from maintenance (a restore, an
    upgrade) is waited for: the runtime serves it again once its routing map
    moved, within a second."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            rpc = JsonRpc(
                server.url,
                TENANT_DB_PREFIX + code,
                f"admin@{admin_code or code}.example",
                admin_password(credentials_dir, code),
                host=f"{code}.localhost",
            )
        except RpcError as exc:
            if "restored or upgraded" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        if timeout:
            # The worker that logged us in saw the new map; another worker
            # re-reads it within its check interval (1 s), not sooner.
            time.sleep(1.2)
        return rpc


def wait_for_state(platform_db, code, expected, timeout=90):
    deadline = time.monotonic() + timeout
    while (state := tenant_row(platform_db, code)[0]) != expected:
        assert time.monotonic() < deadline, f"{code} stuck in {state}"
        time.sleep(0.3)


def provision(cli, code, *extra):
    result = cli("provision", "--code", code, "--email", f"admin@{code}.example", *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@contextlib.contextmanager
def paused_cron(platform_db, name, module="ipai_tenant_engine"):
    """Keep the platform server's cron ``<module>.<name>`` off while a test
    drives the same work from the command line."""
    select = """SELECT res_id FROM ir_model_data
                 WHERE module = %s AND name = %s"""
    [(cron_id,)] = query(platform_db, select, [module, name])
    query(platform_db, "UPDATE ir_cron SET active = false WHERE id = %s", [cron_id])
    try:
        yield
    finally:
        query(platform_db, "UPDATE ir_cron SET active = true WHERE id = %s", [cron_id])


def run_odoo_script(dbname, code):
    """Run Python ``code`` with ``env`` on ``dbname`` through click-odoo, as
    an operator's script or a cron with a given date would; it commits."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", dir=LOCAL_DIR) as script:
        script.write(code)
        script.flush()
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("click-odoo")),
                "-c",
                str(ODOO_CONF),
                "-d",
                dbname,
                script.name,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


# ------------------------------------------------------------ REST API helpers


def run_code(session, code):
    """Create and run a server action with ``code``, as the tenant's admin
    would from Settings > Technical > Server Actions. Returns what the code
    put in ``action``."""
    [model_id] = session.call("ir.model", "search", [("model", "=", "res.partner")])
    action_id = session.call(
        "ir.actions.server",
        "create",
        {"name": "attack", "model_id": model_id, "state": "code", "code": code},
    )
    return session.call("ir.actions.server", "run", [action_id])


def mint_api_key(rpc, user_id, name="tests", **options):
    """A REST API key for ``user_id``, made through the model's method as
    ``rpc``'s user (platform staff, or a tenant administrator for its team)."""
    return rpc.call("ipai.api.key", "action_generate", user_id, name, **options)["key"]


def owner_mark(words):
    """The comment the platform puts on a database it made for ``words``
    ('tenant:acme'): its keyed HMAC (pg.owner_mark), never the words."""
    from odoo.addons.ipai_tenant_core.infra import pg

    return pg.owner_mark(words)


def make_user(admin_rpc, login, tenant_id=None, role=None):
    """An internal user of the provider group, with ``role`` on ``tenant_id``."""
    group_id = admin_rpc.call(
        "ir.model.data", "check_object_reference", "ipai_tenant_core", "group_provider_manager"
    )[1]
    user_id = admin_rpc.call(
        "res.users",
        "create",
        {
            "name": login,
            "login": login,
            "password": f"{login}-pass",
            "groups_id": [(6, 0, [group_id])],
        },
    )
    if tenant_id:
        admin_rpc.call(
            "ipai.tenant.assignment",
            "create",
            {"user_id": user_id, "tenant_id": tenant_id, "role": role},
        )
    return user_id


class ApiClient:
    """The REST API as a client sees it, over real HTTP. ``check`` (a
    callable) validates every answer against the OpenAPI document."""

    def __init__(self, base_url, key=None, check=None):
        self.base_url = base_url.rstrip("/") + "/api/v1"
        self.key = key
        self.check = check

    def request(self, method, path, json=None, headers=None, data=None, params=None):
        all_headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        all_headers.update(headers or {})
        response = requests.request(
            method,
            self.base_url + path,
            json=json,
            data=data,
            params=params,
            headers=all_headers,
            timeout=60,
        )
        if self.check:
            self.check(method, path, response)
        return response

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self.request("PATCH", path, json=json, **kwargs)

    def wait_job(self, job_id, timeout=300):
        """Poll a job until it ends (done, failed or cancelled)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(f"/jobs/{job_id}").json()
            if job["state"] in ("done", "failed", "cancelled"):
                return job
            assert time.monotonic() < deadline, f"job {job_id} still {job['state']}"
            time.sleep(0.5)


class OpenApiChecker:
    """Checks real answers against the OpenAPI document the server
    publishes, with a real JSON Schema validator, and records which
    (route, method, status) each test saw."""

    def __init__(self, document):
        import re

        from jsonschema import Draft202012Validator

        self.document = document
        self.validator_class = Draft202012Validator
        self.seen = set()
        self.routes = []
        for template in document["paths"]:
            pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
            self.routes.append((re.compile(f"^{pattern}$"), template))

    def route_of(self, path):
        path = path.split("?", 1)[0]
        for pattern, template in self.routes:
            if pattern.match(path):
                return template
        return None

    def __call__(self, method, path, response):
        template = self.route_of(path)
        if template is None:  # an undocumented path: a problem details 404
            assert response.status_code == 404, (path, response.status_code)
            assert response.headers["Content-Type"].startswith("application/problem+json")
            return
        operation = self.document["paths"][template].get(method.lower())
        assert operation, f"{method} {template} is not documented"
        status = str(response.status_code)
        assert status in operation["responses"], (
            f"{method} {path} answered {status}, not documented: {response.text[:300]}"
        )
        content = operation["responses"][status]["content"]
        media_type = response.headers["Content-Type"].split(";")[0]
        assert media_type in content, (method, path, status, media_type)
        if content[media_type]["schema"].get("format") != "binary":
            assert "Traceback" not in response.text
            schema = {**content[media_type]["schema"], "components": self.document["components"]}
            checker = self.validator_class.FORMAT_CHECKER
            self.validator_class(schema, format_checker=checker).validate(response.json())
        self.seen.add((template, method.lower(), status))


# ---------------------------------------------------------------------- mail
# The SMTP sink and the webhook receiver are shared with the addons' own
# tests: odoo.addons.ipai_tenant_billing.tests.mail_sink and
# odoo.addons.ipai_tenant_notify.tests.receiver.


@contextlib.contextmanager
def listening_process(command, port, what, env=None):
    """``command`` (its output discarded) once it listens on ``port``;
    stopped after."""
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    try:
        await_listening(port, process, what)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def mail_catcher(folder, runtime_url=None, policy_port=None):
    """`make run`'s mail catcher (scripts/mail_catcher.sh) on a free port,
    keeping every message in the Maildir ``folder`` and, with a tenant
    runtime's ``runtime_url``, handing mail to tenant hosts to it; with
    ``policy_port``, asking that mail policy service about each message
    first, as `make run`'s does; yields its port."""
    port = free_port()
    command = [str(REPO_ROOT / "scripts" / "mail_catcher.sh"), str(port), str(folder)]
    env = {**os.environ, "IPAI_MAIL_POLICY": f"127.0.0.1:{policy_port}"} if policy_port else None
    with listening_process(
        [*command, *([runtime_url] if runtime_url else [])], port, "mail", env=env
    ):
        yield port


@contextlib.contextmanager
def inbound_gateway(runtime_url):
    """The cell's production inbound mail gateway (scripts/mail_gateway.py,
    InboundGateway, as docker-compose.yml's mail-in runs it) on a free port,
    holding the gateway's key only; yields its port."""
    from odoo.addons.ipai_tenant_runtime import credentials

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "aiosmtpd",
        "-n",
        "-l",
        f"127.0.0.1:{port}",
        "-c",
        "mail_gateway.InboundGateway",
        runtime_url,
    ]
    env = {
        **{key: os.environ[key] for key in RUNTIME_ENVIRONMENT if key in os.environ},
        "PYTHONPATH": str(REPO_ROOT / "scripts"),
        "IPAI_MAIL_GATEWAY_KEY": credentials.mail_gateway_key(DEFAULT_CELL),
    }
    with listening_process(command, port, "inbound gateway", env=env):
        yield port


@contextlib.contextmanager
def mail_policy(platform_db, state_dir):
    """The default cell's mail policy service (scripts/mail_policy.py) on a
    free port, holding what the cell's nodes hold; yields its port."""
    port = free_port()
    command = [
        sys.executable,
        str(REPO_ROOT / "scripts" / "mail_policy.py"),
        f"--listen=127.0.0.1:{port}",
        f"--server={os.environ.get('PGHOST', '127.0.0.1')}:{os.environ.get('PGPORT', '5432')}",
        f"--platform-db={platform_db}",
        f"--routing-role={RUNTIME_ROLE}",
        f"--state-dir={state_dir}",
    ]
    env = {
        **{key: os.environ[key] for key in RUNTIME_ENVIRONMENT if key in os.environ},
        **cell_environment(DEFAULT_CELL),
    }
    with listening_process(command, port, "mail policy", env=env):
        yield port


def use_smtp_sink(admin_rpc, sink):
    """The platform's only outgoing mail server is ``sink``; returns the
    ids of the servers to restore."""
    previous = admin_rpc.call("ir.mail_server", "search", [("active", "=", True)])
    admin_rpc.call("ir.mail_server", "write", previous, {"active": False})
    admin_rpc.call(
        "ir.mail_server",
        "create",
        {
            "name": "test sink",
            "smtp_host": "127.0.0.1",
            "smtp_port": sink.port,
            "smtp_encryption": "none",
            "sequence": 1,
        },
    )
    company = admin_rpc.call("res.users", "read", [admin_rpc.uid], ["company_id"])[0]
    admin_rpc.call(
        "res.company", "write", [company["company_id"][0]], {"email": "ops@platform.example"}
    )
    return previous


def send_mail_queue(admin_rpc):
    admin_rpc.call("mail.mail", "process_email_queue")


def mail_html(message):
    part = message.get_body(preferencelist=("html",))
    return part.get_content() if part else ""


def add_server(platform_db, name, port, capacity="", prepare=True):
    """`make add-server`'s script, as the Makefile runs it."""
    env = {
        **os.environ,
        "IPAI_PLATFORM_DB": platform_db,
        "PGSUPERUSER": "postgres",
        "IPAI_PREPARE_SERVER": "1" if prepare else "0",
    }
    return subprocess.run(
        [str(REPO_ROOT / "scripts" / "add_server.sh"), name, "127.0.0.1", str(port), capacity],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def servers_named(platform_db, name):
    return query(platform_db, "SELECT id FROM ipai_tenant_server WHERE name = %s", [name])


@contextlib.contextmanager
def registered_server(platform_db, name, port, capacity="50", open_to_new=True):
    """A server `make add-server` prepared and registered; archived after,
    as an operator retires one, so that later tests do not try to reach it
    once its cluster is gone. Closed to signups (``open_to_new`` False), it
    gets only the tenants a test moves there. Yields its id."""
    result = add_server(platform_db, name, port, capacity)
    assert result.returncode == 0, result.stdout + result.stderr
    [(server_id,)] = servers_named(platform_db, name)
    if not open_to_new:
        query(
            platform_db,
            "UPDATE ipai_tenant_server SET open_to_new = false WHERE id = %s",
            [server_id],
        )
    try:
        yield server_id
    finally:
        query(
            platform_db, "UPDATE ipai_tenant_server SET active = false WHERE id = %s", [server_id]
        )


def server_of(platform_db, code):
    [(name,)] = query(
        platform_db,
        "SELECT s.name FROM ipai_tenant t JOIN ipai_tenant_server s ON s.id = t.server_id"
        " WHERE t.code = %s",
        [code],
    )
    return name


def wait_for_page(server, host, text, timeout=30):
    """The login page of ``host`` on ``server``, asked until it shows
    ``text`` (the runtime follows the platform within a second)."""
    deadline = time.monotonic() + timeout
    while True:
        page = requests.get(f"{server.url}/web/login", headers={"Host": host}, timeout=30)
        if text in page.text or time.monotonic() > deadline:
            return page
        time.sleep(0.2)


def role_password(role):
    """A tenant role's password, as the runtime derives it. Imported here:
    pytest loads the test files before pytest-odoo puts the addons on
    odoo.addons' path."""
    from odoo.addons.ipai_tenant_runtime import credentials

    return credentials.role_password(role)


# ------------------------------------------------- a customer's own Odoo

IMPORTED_PARTNER = "Imported Customer Ltd"
IMPORTED_FILE_BYTES = b"the customer's own file, brought along\n" * 40
SOURCE_CLERK = ("clerk@source.example", "clerk-source-password-1")


def odoo_backup_zip(out):
    """A stock Odoo 18 with contacts (the trial plan's app), a partner, a
    file attached to it and a second user with a password of its own,
    dumped by Odoo itself (``odoo-bin db dump``) to ``out``: what a
    customer brings."""
    dbname = f"{RUN_ID}_stock_source"
    stock = stock_odoo(dbname)
    config = str(stock._config_file())

    def odoo(*args):
        done = subprocess.run(
            [sys.executable, str(odoo_bin()), *args], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr[-2000:]

    odoo("-c", config, "-d", dbname, "-i", "contacts", "--without-demo=all", "--stop-after-init")
    try:
        stock.start()
        rpc = JsonRpc(stock.url, dbname, "admin", "admin")
        partner_id = rpc.call("res.partner", "create", {"name": IMPORTED_PARTNER, "city": "Ghent"})
        rpc.call(
            "ir.attachment",
            "create",
            {
                "name": "contract.txt",
                "res_model": "res.partner",
                "res_id": partner_id,
                "datas": base64.b64encode(IMPORTED_FILE_BYTES).decode(),
            },
        )
        login, password = SOURCE_CLERK
        rpc.call("res.users", "create", {"name": "Clerk", "login": login, "password": password})
        stock.stop()
        odoo("db", "-c", config, "dump", dbname, str(out))
    finally:
        stock.stop()
        drop_database(dbname)
    return out


def import_leftovers(platform_db, code):
    """Everything an import of tenant ``code`` could leave: its tenant row,
    database (and scratch), roles and filestore."""
    found = []
    if tenant_row(platform_db, code):
        found.append("tenant row")
    for name in (TENANT_DB_PREFIX + code, TENANT_DB_PREFIX + code + "_restoring"):
        if database_exists(name):
            found.append(f"database {name}")
        if (FILESTORE / name).exists():
            found.append(f"filestore {name}")
    role = f"{RUN_ID}_r_{code.replace('-', '_')}"
    roles = query(
        "postgres", "SELECT rolname FROM pg_roles WHERE rolname IN %s", [(role, role + "__odoo")]
    )
    found.extend(f"role {name}" for (name,) in roles)
    return found


def import_uploads():
    """The uploaded files imports keep until their job ends."""
    folder = BACKUPS / RUN_ID / "imports"
    return sorted(path.name for path in folder.glob("*")) if folder.exists() else []
