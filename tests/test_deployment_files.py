"""The deployment files are valid, hold no secret, and keep the two runtimes
apart: the tenant runtime gets none of the control plane's secrets, the proxy
sends the platform host to the control plane only, and PostgreSQL's own
databases are closed to roles that have no business there."""

import base64
import configparser
import hashlib
import hmac
import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
from contextlib import closing

import psycopg2
import pytest
from psycopg2 import sql

from .support import REPO_ROOT, query

SECRET_OPTIONS = ("admin_passwd", "db_password", "ipai_encryption_key")
ODOO_CONFIGS = ("odoo.conf", "odoo.prod.conf", "odoo.tenants.conf")
CADDYFILE = REPO_ROOT / "deploy" / "caddy" / "Caddyfile"
CREDENTIALS = REPO_ROOT / "addons" / "ipai_tenant_runtime" / "credentials.py"

# What only the control plane may hold.
CONTROL_PLANE_SECRETS = (
    "IPAI_ENCRYPTION_KEY",
    "IPAI_MASTER_PASSWORD",
    "ODOO_DB_PASSWORD",
    "SUPERSET_ADMIN_PASSWORD",
)
# Every required variable of .env.example (the "change-me" lines).
REQUIRED_VARIABLES = (
    "POSTGRES_PASSWORD",
    "ODOO_DB_PASSWORD",
    "SUPERSET_DB_PASSWORD",
    "IPAI_ENCRYPTION_KEY",
    "IPAI_MASTER_PASSWORD",
    "IPAI_RUNTIME_SECRET",
    "IPAI_CELL_SECRET",
    "IPAI_MAIL_GATEWAY_KEY",
    "SUPERSET_SECRET_KEY",
    "SUPERSET_GUEST_TOKEN_SECRET",
    "SUPERSET_ADMIN_PASSWORD",
)


# Variables of this machine's own stack (make test exports .local/env):
# docker-compose would take them over the env file under test.
STACK_VARIABLE_PREFIXES = ("IPAI_", "SUPERSET_", "POSTGRES_", "ODOO_", "PG")


def compose_config(*env_file, quiet=True):
    return subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", *env_file, "config"]
        + (["--quiet"] if quiet else []),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith(STACK_VARIABLE_PREFIXES)},
    )


def env_example(**overrides):
    """.env.example's lines, with ``overrides`` replacing values (None drops
    the variable)."""
    lines = []
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        name = line.split("=", 1)[0] if "=" in line and not line.startswith("#") else None
        if name in overrides:
            if overrides[name] is not None:
                lines.append(f"{name}={overrides[name]}")
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------ docker-compose


def test_docker_compose_file_is_valid_with_the_documented_variables():
    result = compose_config("--env-file", ".env.example")
    assert result.returncode == 0, result.stderr


def test_env_example_lists_every_required_variable_as_change_me():
    text = (REPO_ROOT / ".env.example").read_text()
    for name in REQUIRED_VARIABLES:
        assert re.search(rf"^{name}=change-me$", text, re.M), name


def test_env_example_lists_every_variable_the_compose_file_reads():
    lines = (REPO_ROOT / "docker-compose.yml").read_text().splitlines()
    compose = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    read = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", compose))
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", (REPO_ROOT / ".env.example").read_text(), re.M))
    assert read and read <= listed, sorted(read - listed)


def test_docker_compose_refuses_to_run_without_its_secrets(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose_config("--env-file", str(empty))
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


@pytest.mark.parametrize(
    "variable", ["IPAI_RUNTIME_SECRET", "IPAI_CELL_SECRET", "IPAI_PLATFORM_HOST"]
)
def test_docker_compose_refuses_to_run_without_each_runtime_setting(tmp_path, variable):
    env_file = tmp_path / "partial.env"
    env_file.write_text(env_example(**{variable: None}))
    result = compose_config("--env-file", str(env_file))
    assert result.returncode != 0
    assert variable in result.stderr


def parse_compose_services(text):
    """``docker-compose config`` output (block YAML, two-space indents) ->
    {service: {key: [lines of its block]}}, enough to read environments,
    ports and networks without PyYAML."""
    services, service, key = {}, None, None
    in_services = False
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        if indent == 0:
            in_services = line == "services:"
            continue
        if not in_services:
            continue
        if indent == 2:
            service = line.strip().rstrip(":")
            services[service], key = {}, None
        elif indent == 4 and not line.lstrip().startswith("- "):
            key, _, inline = line.strip().partition(":")
            services[service][key] = [inline.strip()] if inline.strip() else []
        elif key is not None:
            services[service][key].append(line)
    return services


def mapping(lines):
    """``KEY: value`` lines of one block level -> dict (quotes dropped)."""
    result = {}
    indent = min(len(line) - len(line.lstrip(" ")) for line in lines)
    for line in lines:
        if len(line) - len(line.lstrip(" ")) == indent and ":" in line:
            name, _, value = line.strip().partition(":")
            result[name] = value.strip().strip("'\"")
    return result


@pytest.fixture(scope="module")
def distinct_secrets():
    return {name: f"{name.lower()}-{secrets.token_hex(16)}" for name in REQUIRED_VARIABLES}


@pytest.fixture(scope="module")
def compose_services(tmp_path_factory, distinct_secrets):
    """The resolved compose file, every secret set to a value of its own."""
    env_file = tmp_path_factory.mktemp("compose") / "distinct.env"
    env_file.write_text(env_example(**distinct_secrets))
    result = compose_config("--env-file", str(env_file), quiet=False)
    assert result.returncode == 0, result.stderr
    return result.stdout, parse_compose_services(result.stdout)


def service_text(config_text, service):
    match = re.search(rf"^  {service}:\n((?:    .*\n|\n)*)", config_text, re.M)
    assert match, service
    return match.group(1)


def test_the_stack_has_two_odoo_runtimes_behind_one_proxy(compose_services):
    _text, services = compose_services
    assert set(services) == {
        *("db", "platform", "tenants", "pgbouncer", "proxy", "superset"),
        *("relay", "mail-policy", "mail-in"),
    }
    assert services["platform"]["image"] == services["tenants"]["image"] == ["ipai/odoo:18.0"]
    # That image is the official one with the session store's addon, pinned
    # as the bootstrap pins it.
    dockerfile = (REPO_ROOT / "deploy" / "odoo" / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "\nFROM odoo:18.0\n" in dockerfile
    requirements = (REPO_ROOT / "requirements.txt").read_text()
    for pin in ("odoo-addon-session-db==18.0.*", "dnspython==2.7.0"):
        assert f"'{pin}'" in dockerfile and pin in requirements
    assert services["proxy"]["image"][0].startswith("caddy:2")
    # Only the proxy, Superset and the inbound mail gateway (the MX) publish
    # ports; the runtimes are reached through the proxy alone.
    published = {name for name, keys in services.items() if "ports" in keys}
    assert published == {"proxy", "superset", "mail-in"}
    proxy_ports = " ".join(services["proxy"]["ports"])
    assert ":80" in proxy_ports and ":443" in proxy_ports
    # Both runtimes see the filestores; the staff's sessions stay off the
    # shared volume, where the tenant runtime could read them.
    for runtime in ("platform", "tenants"):
        assert any("odoo_data:/var/lib/odoo:" in line for line in services[runtime]["volumes"])
    assert any("/var/lib/odoo/sessions:" in line for line in services["platform"]["tmpfs"])


def test_tenant_runtime_environment_holds_no_control_plane_secret(
    compose_services, distinct_secrets
):
    text, services = compose_services
    environment = mapping(services["tenants"]["environment"])
    assert set(environment) == {"HOST", "PORT", "USER", "IPAI_CELL", "IPAI_CELL_SECRET"}
    assert environment["USER"] == "ipai_runtime"
    assert environment["IPAI_CELL"] == "main"
    assert environment["IPAI_CELL_SECRET"] == distinct_secrets["IPAI_CELL_SECRET"]
    for name in (*CONTROL_PLANE_SECRETS, "PASSWORD", "PGPASSWORD"):
        assert name not in environment, name
    # Nor anywhere else in its definition (entrypoint, command, labels...).
    tenants = service_text(text, "tenants")
    for name, value in distinct_secrets.items():
        if name != "IPAI_CELL_SECRET":  # the master among them: never here
            assert value not in tenants, name
    # The control plane holds them all, and the master of the cells' secrets.
    platform = mapping(services["platform"]["environment"])
    for name in CONTROL_PLANE_SECRETS:
        setting = "PASSWORD" if name == "ODOO_DB_PASSWORD" else name
        assert platform[setting] == distinct_secrets[name], name
    assert platform["IPAI_RUNTIME_SECRET"] == distinct_secrets["IPAI_RUNTIME_SECRET"]


def test_tenant_runtime_cannot_reach_the_control_plane_but_through_the_proxy(compose_services):
    _text, services = compose_services

    def networks(service):
        return set(mapping(services[service]["networks"]))

    assert not networks("platform") & networks("tenants")
    assert networks("platform") <= networks("proxy")
    assert networks("tenants") <= networks("proxy")
    for service in ("platform", "tenants"):
        assert networks(service) <= networks("db")


def test_pgbouncer_holds_its_cells_secret_only_and_sits_on_the_tenant_side(
    compose_services, distinct_secrets
):
    """PgBouncer derives its user list from the cell's secret, which the
    cell's nodes hold already (never the master); it is reached by the
    tenant runtime and reaches the database server, nothing on the platform
    side."""
    text, services = compose_services
    environment = mapping(services["pgbouncer"]["environment"])
    assert set(environment) == {"IPAI_CELL", "IPAI_CELL_SECRET"}
    assert environment["IPAI_CELL"] == "main"
    for name, value in distinct_secrets.items():
        if name != "IPAI_CELL_SECRET":
            assert value not in service_text(text, "pgbouncer"), name
    assert set(mapping(services["pgbouncer"]["networks"])) == {"tenant_side"}
    assert "ports" not in services["pgbouncer"]
    command = " ".join(services["pgbouncer"]["command"])
    assert "--server=db:5432" in command and "--port=6432" in command
    conf = configparser.RawConfigParser()
    conf.read(REPO_ROOT / "odoo.tenants.conf")
    assert conf["options"]["ipai_db_poolers"] == "db:5432=pgbouncer:6432"


def test_the_mail_services_hold_what_their_job_needs_on_the_tenant_side(
    compose_services, distinct_secrets
):
    """The relay holds no secret; the mail policy service its cell's secret
    (to read its cell's routing view); the inbound gateway its signing key
    only. The tenant runtime sends through the relay."""
    text, services = compose_services
    held = {
        "relay": set(),
        "mail-policy": {"IPAI_CELL_SECRET"},
        "mail-in": {"IPAI_MAIL_GATEWAY_KEY"},
    }
    for service, allowed in held.items():
        assert set(mapping(services[service]["networks"])) == {"tenant_side"}, service
        for name, value in distinct_secrets.items():
            assert (value in service_text(text, service)) == (name in allowed), (service, name)
    assert "ports" not in services["relay"] and "ports" not in services["mail-policy"]
    conf = configparser.RawConfigParser()
    conf.read(REPO_ROOT / "odoo.tenants.conf")
    assert (conf["options"]["smtp_server"], conf["options"]["smtp_port"]) == ("relay", "25")
    main_cf = (REPO_ROOT / "deploy" / "postfix" / "main.cf").read_text()
    assert "check_policy_service { inet:mail-policy:10040" in main_cf


def test_runtime_role_password_derivation_is_the_documented_one(monkeypatch):
    """The tenants service's entrypoint derives PGPASSWORD with the runtime's
    own credentials.py; the control plane sets the same value."""
    compose = (REPO_ROOT / "docker-compose.yml").read_text()
    assert "/mnt/extra-addons/ipai_tenant_runtime/credentials.py" in compose
    spec = importlib.util.spec_from_file_location("ipai_runtime_credentials", CREDENTIALS)
    credentials = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(credentials)

    def b64(digest):
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    master = secrets.token_urlsafe(48)
    cell_secret = b64(hmac.new(master.encode(), b"ipai-cell\0main", hashlib.sha256).digest())
    digest = hmac.new(cell_secret.encode(), b"ipai-pg-role\0ipai_runtime", hashlib.sha256).digest()
    # The control plane, from the master; the node, from its cell's secret.
    monkeypatch.delenv("IPAI_CELL", raising=False)
    monkeypatch.delenv("IPAI_CELL_SECRET", raising=False)
    monkeypatch.setenv("IPAI_RUNTIME_SECRET", master)
    assert credentials.cell_secret("main") == cell_secret
    assert credentials.role_password("ipai_runtime", "main") == b64(digest)
    monkeypatch.delenv("IPAI_RUNTIME_SECRET")
    monkeypatch.setenv("IPAI_CELL", "main")
    monkeypatch.setenv("IPAI_CELL_SECRET", cell_secret)
    assert credentials.role_password("ipai_runtime") == b64(digest)
    # A node holds its cell's secret only: another cell's passwords are out of reach.
    with pytest.raises(credentials.MissingRuntimeSecret):
        credentials.role_password("ipai_runtime_b", "b")
    monkeypatch.setenv("IPAI_CELL_SECRET", "change-me")
    with pytest.raises(credentials.MissingRuntimeSecret):
        credentials.role_password("ipai_runtime")


# -------------------------------------------------------------- Odoo configs


def odoo_options(name):
    parser = configparser.RawConfigParser()
    assert parser.read(REPO_ROOT / name), name
    return parser["options"]


def test_odoo_config_templates_hold_no_secret():
    for name in ODOO_CONFIGS:
        options = odoo_options(name)
        for option in SECRET_OPTIONS:
            assert not options.get(option), (name, option)
        assert options["list_db"] == "False", name


def test_control_plane_config_serves_the_platform_database_only():
    options = odoo_options("odoo.prod.conf")
    assert options["ipai_runtime"] == "platform"
    assert options["ipai_platform_db"] == "ipai_platform"
    modules = options["server_wide_modules"].split(",")
    assert "ipai_tenant_runtime" in modules and "ipai_tenant_core" not in modules
    dbfilter = re.compile(options["dbfilter"])
    assert dbfilter.match("ipai_platform")
    for other in ("odoo_acme", "ipai_platform_x", "postgres", "ipai_tpl_0123abcd"):
        assert not dbfilter.match(other), other


def test_tenant_runtime_config_serves_tenant_databases_only():
    options = odoo_options("odoo.tenants.conf")
    assert options["ipai_runtime"] == "tenant"
    assert options["ipai_platform_db"] == "ipai_platform"
    assert options["db_user"] == "ipai_runtime"
    assert options["proxy_mode"] == "True"
    modules = options["server_wide_modules"].split(",")
    assert "ipai_tenant_runtime" in modules and "ipai_tenant_core" not in modules
    assert int(options["workers"]) > 0 and int(options["max_cron_threads"]) > 0
    dbfilter = re.compile(options["dbfilter"])
    assert dbfilter.match("odoo_acme") and dbfilter.match("odoo_acme-staging")
    for platform_owned in ("ipai_platform", "ipai_tpl_0123abcd", "postgres", "template1"):
        assert not dbfilter.match(platform_owned), platform_owned


def test_no_local_state_or_env_file_is_tracked():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert not [path for path in tracked if path.startswith(".local/") or path == ".env"]


# ----------------------------------------------------------------- Caddyfile


def caddy_sites(text):
    """Top-level blocks of a Caddyfile formatted by ``caddy fmt``:
    {address line: body}. Snippets "(name)" and the global block included."""
    sites, current, body = {}, None, []
    for line in text.splitlines():
        if current is None:
            if line.endswith("{") and not line.startswith(("#", "\t", " ")):
                current, body = line[:-1].strip(), []
        elif line == "}":
            sites[current], current = "\n".join(body), None
        else:
            body.append(line)
    return sites


def reverse_proxies(body):
    """The arguments of a site's reverse_proxy lines: "[path] upstream"."""
    return set(re.findall(r"^\s*reverse_proxy (.+?)(?: \{)?$", body, re.M))


def test_proxy_sends_the_platform_host_to_the_control_plane_only():
    sites = caddy_sites(CADDYFILE.read_text())
    platform = sites["{$IPAI_PLATFORM_HOST}"]
    assert reverse_proxies(platform) == {
        "{$IPAI_PLATFORM_HTTP:platform:8069}",
        "/websocket {$IPAI_PLATFORM_WEBSOCKET:platform:8072}",
    }
    assert "tenants:" not in platform and "TENANTS" not in platform
    # Every other host (the catch-all site) goes to the tenant runtime.
    tenants = sites["{$IPAI_TENANT_SITE:https://}"]
    assert reverse_proxies(tenants) == {
        "{$IPAI_TENANTS_HTTP:tenants:8069}",
        "/websocket {$IPAI_TENANTS_WEBSOCKET:tenants:8072}",
    }
    for address, body in sites.items():
        if address != "{$IPAI_PLATFORM_HOST}":
            assert "platform:" not in body and "IPAI_PLATFORM_HTTP" not in body, address


def test_proxy_service_mounts_the_caddyfile_and_names_the_platform_host(compose_services):
    _text, services = compose_services
    assert any(
        line.strip().endswith("deploy/caddy/Caddyfile:/etc/caddy/Caddyfile:ro")
        for line in services["proxy"]["volumes"]
    )
    assert mapping(services["proxy"]["environment"])["IPAI_PLATFORM_HOST"]


def test_caddy_itself_routes_the_platform_host_to_the_control_plane():
    """With a caddy binary at hand, ask Caddy how it reads the file."""
    caddy = shutil.which("caddy")
    if not caddy:
        pytest.skip("no caddy binary to adapt the Caddyfile with")
    env = {**os.environ, "IPAI_PLATFORM_HOST": "admin.example.test", "IPAI_TLS": "acme"}
    result = subprocess.run(
        [caddy, "adapt", "--config", str(CADDYFILE)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    routes = json.loads(result.stdout)["apps"]["http"]["servers"]["srv0"]["routes"]

    def dials(route):
        return set(re.findall(r'"dial": "([^"]+)"', json.dumps(route)))

    by_host = {tuple(r["match"][0]["host"]) if "match" in r else None: r for r in routes}
    assert dials(by_host[("admin.example.test",)]) == {"platform:8069", "platform:8072"}
    assert dials(by_host[None]) == {"tenants:8069", "tenants:8072"}
    # Slow clients wait in Caddy: bounded reads, and every body read whole
    # before a runtime's HTTP port is asked.
    server = json.loads(result.stdout)["apps"]["http"]["servers"]["srv0"]
    assert 0 < server["read_header_timeout"] <= 30 * 10**9
    assert 0 < server["read_timeout"] <= 300 * 10**9
    for host in (("admin.example.test",), None):
        handlers = [
            handler for route in by_host[host]["handle"][0]["routes"] for handler in route["handle"]
        ]
        http_ports = [
            h
            for h in handlers
            if h["handler"] == "reverse_proxy" and h["upstreams"][0]["dial"].endswith(":8069")
        ]
        assert http_ports and all(h["buffer_requests"] for h in http_ports)
        # ...in memory, so only as large as Odoo's own upload limit.
        limits = [h["max_size"] for h in handlers if h["handler"] == "request_body"]
        assert limits == [128 * 2**20], host


# ------------------------------------------------- PostgreSQL init scripts

INIT_ODOO_ROLE = str(REPO_ROOT / "deploy" / "postgres" / "init-odoo-role.sh")
INIT_SUPERSET_DB = str(REPO_ROOT / "deploy" / "postgres" / "init-superset-db.sh")
CLUSTER_DATABASES = ("postgres", "template0", "template1")


def superuser_env():
    """Environment for deploy/postgres/*.sh against this machine's PostgreSQL,
    as its superuser (the postgres image runs them as POSTGRES_USER)."""
    env = {
        **os.environ,
        "PGHOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PGPORT": os.environ.get("PGPORT", "5432"),
        "POSTGRES_USER": os.environ.get("PGSUPERUSER", "postgres"),
        "POSTGRES_DB": "postgres",
    }
    try:
        with closing(superuser_connection(env)) as conn, conn.cursor() as cr:
            cr.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            is_superuser = cr.fetchone()[0]
    except psycopg2.OperationalError:
        is_superuser = False
    if not is_superuser:
        pytest.skip(f"no passwordless superuser connection as {env['POSTGRES_USER']}")
    return env


def superuser_connection(env, dbname="postgres"):
    conn = psycopg2.connect(
        dbname=dbname, user=env["POSTGRES_USER"], host=env["PGHOST"], port=env["PGPORT"]
    )
    conn.autocommit = True
    return conn


def connect_as(env, role, dbname):
    conn = psycopg2.connect(dbname=dbname, user=role, host=env["PGHOST"], port=env["PGPORT"])
    conn.autocommit = True
    return conn


def role_attributes(role):
    rows = query(
        "postgres",
        """SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolreplication,
                  rolbypassrls, pg_has_role(rolname, 'pg_signal_backend', 'MEMBER')
             FROM pg_roles WHERE rolname = %s""",
        [role],
    )
    return rows[0] if rows else None


def database_privileges(cr, role, databases):
    """{database: (CONNECT, TEMPORARY)} of ``role`` ("public" for PUBLIC)."""
    cr.execute(
        """SELECT datname, has_database_privilege(%s, oid, 'CONNECT'),
                  has_database_privilege(%s, oid, 'TEMPORARY')
             FROM pg_database WHERE datname = ANY(%s)""",
        [role, role, list(databases)],
    )
    return {name: (connect, temporary) for name, connect, temporary in cr.fetchall()}


@pytest.fixture
def cluster_hygiene_restored():
    """The init script closes postgres and the templates to PUBLIC, on the
    cluster every test of this run shares. Before it runs, this machine's Odoo
    role gets CONNECT on postgres in its own name (what the control plane
    needs, and what the script grants in production); afterwards PUBLIC gets
    back exactly what it had, so nothing else changes for the rest of the run."""
    env = superuser_env()
    odoo_role = os.environ.get("IPAI_DB_USER", "ipai")
    with closing(superuser_connection(env)) as conn, conn.cursor() as cr:
        before = database_privileges(cr, "public", CLUSTER_DATABASES)
        cr.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [odoo_role])
        if cr.fetchone():
            cr.execute(
                sql.SQL("GRANT CONNECT ON DATABASE postgres TO {}").format(
                    sql.Identifier(odoo_role)
                )
            )
    yield env
    with closing(superuser_connection(env)) as conn, conn.cursor() as cr:
        for database, (connect, temporary) in before.items():
            had = [name for name, held in (("CONNECT", connect), ("TEMPORARY", temporary)) if held]
            if had:
                cr.execute(
                    sql.SQL("GRANT {} ON DATABASE {} TO PUBLIC").format(
                        sql.SQL(", ").join(map(sql.SQL, had)), sql.Identifier(database)
                    )
                )


def drop_roles(env, roles):
    """Drop ``roles`` and the privileges they were given on the cluster's
    databases (DROP ROLE refuses while any remain)."""
    with closing(superuser_connection(env)) as conn, conn.cursor() as cr:
        for name in roles:
            cr.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
            if not cr.fetchone():
                continue
            for database in CLUSTER_DATABASES:
                cr.execute(
                    sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(
                        sql.Identifier(database), sql.Identifier(name)
                    )
                )
            cr.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_compose_odoo_role_can_run_the_platform_and_is_not_superuser(cluster_hygiene_restored):
    env = cluster_hygiene_restored
    role = f"ipai_test_compose_{os.getpid()}"
    database, tenant_role, runtime_role = f"{role}_db", f"{role}_tenant", f"{role}_runtime"
    env.update(
        ODOO_DB_USER=role, ODOO_DB_PASSWORD=secrets.token_urlsafe(16), RUNTIME_DB_USER=runtime_role
    )
    try:
        for _ in range(2):  # idempotent: a rerun on an existing volume
            result = subprocess.run([INIT_ODOO_ROLE], env=env, capture_output=True, text=True)
            assert result.returncode == 0, result.stderr
        assert role_attributes(role) == (False, True, True, True, False, False, True)
        # What the provisioning engine does with it: a database, a tenant role.
        with closing(connect_as(env, role, "postgres")) as conn, conn.cursor() as cr:
            cr.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            cr.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(tenant_role)))
            cr.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(tenant_role)))
            cr.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
    finally:
        with closing(superuser_connection(env)) as conn, conn.cursor() as cr:
            cr.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database)))
        drop_roles(env, (tenant_role, runtime_role, role))


def test_compose_init_closes_the_cluster_databases_to_plain_roles(cluster_hygiene_restored):
    env = cluster_hygiene_restored
    role = f"ipai_test_hygiene_{os.getpid()}"
    runtime_role, plain_role = f"{role}_runtime", f"{role}_plain"
    env.update(
        ODOO_DB_USER=role, ODOO_DB_PASSWORD=secrets.token_urlsafe(16), RUNTIME_DB_USER=runtime_role
    )
    try:
        with closing(superuser_connection(env)) as conn, conn.cursor() as cr:
            cr.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(plain_role)))
            # A routing role that exists already is brought down to LOGIN
            # only, and keeps the password the control plane gave it.
            cr.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD 'set-by-the-control-plane'").format(
                    sql.Identifier(runtime_role)
                )
            )
        result = subprocess.run([INIT_ODOO_ROLE], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr

        with closing(superuser_connection(env)) as conn, conn.cursor() as cr:
            public = database_privileges(cr, "public", CLUSTER_DATABASES)
            assert public == dict.fromkeys(CLUSTER_DATABASES, (False, False))
            assert database_privileges(cr, role, ["postgres"])["postgres"][0]
            cr.execute(
                """SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolreplication,
                          rolbypassrls, rolpassword IS NOT NULL
                     FROM pg_authid WHERE rolname = %s""",
                [runtime_role],
            )
            assert cr.fetchone() == (False, False, False, True, False, False, True)
            # This machine's Odoo role keeps what the whole test run needs.
            odoo_role = os.environ.get("IPAI_DB_USER", "ipai")
            cr.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [odoo_role])
            if cr.fetchone():
                assert database_privileges(cr, odoo_role, ["postgres"])["postgres"][0]

        for plain in (plain_role, runtime_role):
            for database in ("postgres", "template1"):
                with pytest.raises(psycopg2.OperationalError, match="permission denied"):
                    connect_as(env, plain, database).close()
        connect_as(env, role, "postgres").close()
    finally:
        drop_roles(env, (plain_role, runtime_role, role))


def test_compose_routing_role_refuses_the_other_roles_names(cluster_hygiene_restored):
    env = cluster_hygiene_restored
    env.update(ODOO_DB_USER="ipai_test_never_created", ODOO_DB_PASSWORD="x")
    for name in ("ipai_test_never_created", env["POSTGRES_USER"], "postgres"):
        env["RUNTIME_DB_USER"] = name
        result = subprocess.run([INIT_ODOO_ROLE], env=env, capture_output=True, text=True)
        assert result.returncode == 1, name
        assert "RUNTIME_DB_USER must differ" in result.stderr, name
    assert role_attributes("ipai_test_never_created") is None


def test_compose_odoo_role_refuses_the_superuser_name():
    env = superuser_env()
    env.update(ODOO_DB_USER=env["POSTGRES_USER"], ODOO_DB_PASSWORD="x")
    result = subprocess.run([INIT_ODOO_ROLE], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "must differ from POSTGRES_USER" in result.stderr
    assert role_attributes(env["POSTGRES_USER"])[0] is True  # still a superuser


def test_compose_superset_database_is_closed_to_everyone_but_its_owner():
    env = superuser_env()
    owner = f"ipai_test_superset_{os.getpid()}"
    database, plain_role = f"{owner}_meta", f"{owner}_plain"
    env.update(
        SUPERSET_DB_USER=owner,
        SUPERSET_DB_PASSWORD=secrets.token_urlsafe(16),
        SUPERSET_DB_NAME=database,
    )
    try:
        with closing(superuser_connection(env)) as conn, conn.cursor() as cr:
            cr.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(plain_role)))
        for _ in range(2):  # idempotent
            result = subprocess.run([INIT_SUPERSET_DB], env=env, capture_output=True, text=True)
            assert result.returncode == 0, result.stderr
        with closing(superuser_connection(env)) as conn, conn.cursor() as cr:
            assert database_privileges(cr, "public", [database]) == {database: (False, False)}
        connect_as(env, owner, database).close()
        with pytest.raises(psycopg2.OperationalError, match="permission denied"):
            connect_as(env, plain_role, database).close()
    finally:
        with closing(superuser_connection(env)) as conn, conn.cursor() as cr:
            cr.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
        drop_roles(env, (plain_role, owner))
