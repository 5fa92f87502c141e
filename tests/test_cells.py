"""Cells: a node of cell A holds cell A's secret and nothing of cell B's.

The development cluster trusts 127.0.0.1 (any password opens any role), so
the cells' nodes reach PostgreSQL here through a PgBouncer that checks
every login's password against the cluster's own SCRAM secrets, as a
production server does (`password_checking_server`).

Two cells besides the default one, a tenant moved into each (the move job:
new password, the old cell's connections ended, the route switched), a
node of each started as a real process with exactly what a node is given
(``IPAI_CELL`` and ``IPAI_CELL_SECRET``, its cell's routing role). Then code
that escaped the sandbox in node A, holding everything node A's process
holds, tries to open cell B's tenant database, session store and routes:
PostgreSQL refuses. And placement holds on the stored record whatever a
provider's JSON-RPC call sends."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg2
import pytest
import requests
from psycopg2 import sql

from .support import (
    REPO_ROOT,
    RpcError,
    await_listening,
    connect_as,
    free_port,
    pg_connect,
    provider_with_manager,
    provision,
    query,
    tenant_runtime,
)

CELL_A, CELL_B = "ca", "cb"
TENANT_A, TENANT_B = "cell-a", "cell-b"


def cell_id(admin_rpc, code):
    found = admin_rpc.call("ipai.tenant.cell", "search", [("code", "=", code)])
    return found[0] if found else None


def wait_for_no_backends(cr, database, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cr.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [database])
        if not cr.fetchone()[0]:
            return
        time.sleep(0.2)


@pytest.fixture(scope="module", autouse=True)
def cells_forgotten_after(platform_db):
    """The cells' roles and session stores are named after the cells, not
    after this run: dropped when the module is done, so that no run leaves
    them on the cluster."""
    yield
    conn = pg_connect(platform_db)
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            for code in (CELL_A, CELL_B, "dvictim"):
                routing, store = f"ipai_runtime_{code}", f"ipai_sessions_{code}"
                cr.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [routing])
                if cr.fetchone():
                    role = sql.Identifier(routing)
                    for grant in (
                        "REVOKE ALL ON ipai_cell_routing FROM {role}",
                        "REVOKE ALL ON SEQUENCE ipai_routing_version FROM {role}",
                        "REVOKE ALL ON DATABASE {database} FROM {role}",
                    ):
                        cr.execute(
                            sql.SQL(grant).format(role=role, database=sql.Identifier(platform_db))
                        )
                # The nodes and their PgBouncer are gone, but their backends
                # may still be closing; FORCE may not end another role's.
                wait_for_no_backends(cr, store)
                drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                cr.execute(drop.format(sql.Identifier(store)))
                for name in (routing, store):
                    cr.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
    finally:
        conn.close()


@pytest.fixture(scope="module")
def two_cells(admin_rpc, cli, tenant_server):
    """Cells ca and cb, a tenant moved into each by the move job. Closed to
    placement: this run's other tenants stay in the default cell."""
    for code in (CELL_A, CELL_B):
        if not cell_id(admin_rpc, code):
            admin_rpc.call(
                "ipai.tenant.cell",
                "create",
                {"code": code, "name": f"Cell {code}", "open_for_tenants": False},
            )
    moves = {}
    for tenant, cell in ((TENANT_A, CELL_A), (TENANT_B, CELL_B)):
        provision(cli, tenant)
        result = cli("move-cell", "--code", tenant, "--cell", cell)
        assert result.returncode == 0, result.stdout + result.stderr
        moves[tenant] = result.stdout
    return moves


BOUNCER_CONFIG = """[databases]
* = host=127.0.0.1 port={pg_port}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_user = {superuser}
auth_query = SELECT rolname, rolpassword FROM pg_authid WHERE rolname = $1 AND rolcanlogin
pool_mode = session
max_client_conn = 200
default_pool_size = 20
server_idle_timeout = 5
ignore_startup_parameters = extra_float_digits,options,application_name
logfile = {log}
pidfile = {pid}
"""


@pytest.fixture(scope="module")
def password_checking_server():
    """A port where PostgreSQL logins need their role's password: PgBouncer
    (Debian's) verifying SCRAM against pg_authid, in front of the cluster.
    It refuses to run as root: it runs as postgres, in a folder it can read."""
    folder = Path(tempfile.mkdtemp(prefix="ipai-cells-bouncer-"))
    folder.chmod(0o777)
    port = free_port()
    config = folder / "pgbouncer.ini"
    config.write_text(
        BOUNCER_CONFIG.format(
            pg_port=os.environ.get("PGPORT", "5432"),
            port=port,
            superuser=os.environ.get("PGSUPERUSER", "postgres"),
            log=folder / "pgbouncer.log",
            pid=folder / "pgbouncer.pid",
        )
    )
    config.chmod(0o644)
    as_user = ["-u", "postgres"] if os.geteuid() == 0 else []
    process = subprocess.Popen(
        ["pgbouncer", *as_user, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await_listening(port, process, f"pgbouncer (see {folder})")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def start_node(platform_db, cell, tmp_path_factory, port):
    return tenant_runtime(
        platform_db,
        f"cell-{cell}",
        workers=1,
        cron_threads=0,
        data_dir=tmp_path_factory.mktemp(f"cell-{cell}-data"),
        cell=cell,
        # Every login of the node is checked: its configured server and
        # PGPORT both lead to the password-checking port.
        options={"db_host": "127.0.0.1", "db_port": port},
        environment={"PGHOST": "127.0.0.1", "PGPORT": str(port)},
    ).start()


@pytest.fixture(scope="module")
def cell_nodes(two_cells, platform_db, tmp_path_factory, password_checking_server):
    started = []
    try:
        for cell in (CELL_A, CELL_B):
            started.append(
                start_node(platform_db, cell, tmp_path_factory, password_checking_server)
            )
        yield dict(zip((CELL_A, CELL_B), started, strict=True))
    finally:
        for node in started:
            node.stop()


def tenant_role(platform_db, code):
    [(database, role)] = query(
        platform_db, "SELECT database_name, runtime_role FROM ipai_tenant WHERE code = %s", [code]
    )
    return database, role


def login_page(node, code, timeout=10):
    """The status of tenant ``code``'s login page through ``node``, waiting
    (up to ``timeout``) for a 200 while the node's routes catch up."""
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(
            f"{node.url}/web/login", headers={"Host": f"{code}.localhost"}, timeout=30
        )
        if response.status_code == 200 or time.monotonic() > deadline:
            return response.status_code
        time.sleep(0.3)


def test_the_move_job_reports_its_steps_and_duration(two_cells):
    for tenant, cell in ((TENANT_A, CELL_A), (TENANT_B, CELL_B)):
        assert f"moved to cell {cell} in " in two_cells[tenant], two_cells[tenant]


def test_each_cells_node_serves_its_own_cells_tenants_only(cell_nodes):
    assert login_page(cell_nodes[CELL_A], TENANT_A) == 200
    assert login_page(cell_nodes[CELL_B], TENANT_B) == 200
    # The other cell's tenant is unknown to each node: not in its routes.
    assert login_page(cell_nodes[CELL_A], TENANT_B, timeout=0) == 404
    assert login_page(cell_nodes[CELL_B], TENANT_A, timeout=0) == 404


# Run inside node A's exact environment: what code escaped from the sandbox
# there holds. It derives every password it can, and tries every value it
# holds (environment and the node's config file) as a password too.
ESCAPED_CODE = r"""
import configparser, importlib.util, json, os, sys
import psycopg2

spec = importlib.util.spec_from_file_location("credentials", sys.argv[1])
credentials = importlib.util.module_from_spec(spec)
spec.loader.exec_module(credentials)
target = json.loads(sys.argv[3])
parser = configparser.RawConfigParser()
parser.read(sys.argv[2])
held = set(os.environ.values()) | set(parser["options"].values())
# Where the node's PostgreSQL is: its config, and PGHOST/PGPORT (the same).
server = (parser["options"]["db_host"], parser["options"]["db_port"])
assert (os.environ["PGHOST"], os.environ["PGPORT"]) == server
derived = {credentials.role_password(role) for role in target["roles"]}
try:
    credentials.role_password(target["roles"][0], target["cell"])
    other_cell = "derived"
except credentials.MissingRuntimeSecret:
    other_cell = "refused"

def attempt(database, role):
    for password in sorted(derived | held):
        try:
            psycopg2.connect(dbname=database, user=role, password=password,
                             host=server[0], port=server[1], connect_timeout=5).close()
            return "opened"
        except psycopg2.OperationalError:
            continue
    return "refused"

own_routing = parser["options"]["db_user"]
conn = psycopg2.connect(dbname=target["platform"], user=own_routing,
                        password=credentials.role_password(own_routing),
                        host=server[0], port=server[1])
conn.autocommit = True
cr = conn.cursor()
cr.execute("SELECT DISTINCT database_name FROM ipai_cell_routing")
visible = sorted(row[0] for row in cr.fetchall())
try:
    cr.execute("SELECT count(*) FROM ipai_tenant_routing")
    unfiltered = "read"
except psycopg2.Error:
    unfiltered = "refused"
try:
    cr.execute("SET SESSION AUTHORIZATION " + target["routing_role"])
    became = "became"
except psycopg2.Error:
    became = "refused"
print("RESULT" + json.dumps({
    "other_cell": other_cell,
    "tenant_db": {role: attempt(target["database"], role) for role in target["roles"]},
    "session_store": {role: attempt(target["store"], role) for role in target["store_roles"]},
    "routes_as_b": attempt(target["platform"], target["routing_role"]),
    "visible": visible,
    "unfiltered": unfiltered,
    "became": became,
}))
"""


def test_code_escaped_in_cell_a_reaches_nothing_of_cell_b(cell_nodes, platform_db):
    node_a = cell_nodes[CELL_A]
    database_a, _role_a = tenant_role(platform_db, TENANT_A)
    database_b, role_b = tenant_role(platform_db, TENANT_B)
    target = {
        "cell": CELL_B,
        "platform": platform_db,
        "database": database_b,
        # B's own role, and every role name node A knows of.
        "roles": [role_b, "ipai_runtime_ca", "ipai_runtime_cb", "ipai_sessions_ca"],
        "store": "ipai_sessions_cb",
        "store_roles": ["ipai_sessions_cb", "ipai_sessions_ca"],
        "routing_role": "ipai_runtime_cb",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            ESCAPED_CODE,
            str(REPO_ROOT / "addons" / "ipai_tenant_runtime" / "credentials.py"),
            str(node_a.log_path.with_suffix(".conf")),
            json.dumps(target),
        ],
        env=node_a._environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.split("RESULT", 1)[1].splitlines()[0])
    assert found["other_cell"] == "refused"
    assert set(found["tenant_db"].values()) == {"refused"}, found
    assert set(found["session_store"].values()) == {"refused"}, found
    assert found["routes_as_b"] == "refused"
    # Its own routes: its own cell's tenants, none of B's.
    assert database_a in found["visible"] and database_b not in found["visible"]
    assert found["unfiltered"] == "refused"
    assert found["became"] == "refused"
    # And node A's process holds neither the master nor B's secret.
    environment = node_a._environment()
    assert "IPAI_RUNTIME_SECRET" not in environment
    from odoo.addons.ipai_tenant_runtime import credentials

    assert credentials.cell_secret(CELL_B) not in environment.values()


def test_the_moved_tenants_old_cell_can_no_longer_log_in_as_it(
    two_cells, platform_db, password_checking_server
):
    from odoo.addons.ipai_tenant_runtime import credentials

    port = str(password_checking_server)
    database, role = tenant_role(platform_db, TENANT_B)
    for cell in ("main", CELL_A):
        with pytest.raises(psycopg2.OperationalError):
            connect_as(database, role, credentials.role_password(role, cell), "127.0.0.1", port)
    connect_as(database, role, credentials.role_password(role, CELL_B), "127.0.0.1", port).close()


# ------------------------------------------------------------- placement


@pytest.fixture(scope="module")
def dedicated(admin_rpc, two_cells):
    """A customer's dedicated cell (a platform manager's choice)."""
    code = "dvictim"
    found = cell_id(admin_rpc, code)
    if found:
        return found
    victim = admin_rpc.call(
        "ipai.tenant", "create", {"code": "cell-victim", "name": "Victim", "cell_id": False}
    )
    return admin_rpc.call(
        "ipai.tenant.cell",
        "create",
        {
            "code": code,
            "name": "Victim's own",
            "dedicated_tenant_id": victim,
            "open_for_tenants": False,
            "capacity": 1,
        },
    )


def test_a_provider_cannot_place_its_tenant_in_anothers_dedicated_cell(
    admin_rpc, platform_server, platform_db, dedicated
):
    provider_id, rpc = provider_with_manager(
        admin_rpc, platform_server, "cell-prov", "Cell provider", "cell-prov@example.com"
    )
    vals = {"code": "cell-sub1", "name": "Sub", "parent_id": provider_id}
    with pytest.raises(RpcError) as refused:
        rpc.call("ipai.tenant", "create", {**vals, "cell_id": dedicated})
    assert "platform managers" in str(refused.value)
    # A context default is not a way in either: the tenant is placed by policy.
    made = rpc.call("ipai.tenant", "create", vals, context={"default_cell_id": dedicated})
    [(cell,)] = query(
        platform_db,
        "SELECT c.code FROM ipai_tenant t JOIN ipai_tenant_cell c ON c.id = t.cell_id "
        "WHERE t.id = %s",
        [made],
    )
    assert cell != "dvictim"
    with pytest.raises(RpcError):
        rpc.call("ipai.tenant", "write", [made], {"cell_id": dedicated})
    # What it may know of its tenant's cell: the name, no more.
    [row] = rpc.call("ipai.tenant", "read", [made], ["cell_name"])
    assert row["cell_name"]
    with pytest.raises(RpcError):
        rpc.call("ipai.tenant", "read", [made], ["cell_id"])
    with pytest.raises(RpcError):
        rpc.call("ipai.tenant.cell", "search_read", [], ["code"])


# ------------------------------------------------------------- last: a move


def poll_while(nodes, code, stop, seen):
    """Ask each of ``nodes`` for tenant ``code``'s login page every 50 ms
    until ``stop`` is set: ``seen`` gets (time, node index, status)."""
    while not stop.is_set():
        for index, node in enumerate(nodes):
            try:
                status = requests.get(
                    f"{node.url}/web/login", headers={"Host": f"{code}.localhost"}, timeout=10
                ).status_code
            except requests.RequestException:
                status = 0
            seen.append((time.monotonic(), index, status))
        time.sleep(0.05)


def test_a_moved_tenant_is_served_by_its_new_cell_only(cell_nodes, cli, platform_db):
    """Cell A's tenant moves to cell B while both cells' nodes run: B's node
    serves it, A's node forgets it. Prints the downtime: from the last
    answer of A's node to the first of B's."""
    node_a, node_b = cell_nodes[CELL_A], cell_nodes[CELL_B]
    assert login_page(node_a, TENANT_A) == 200
    stop, seen = threading.Event(), []
    poller = threading.Thread(target=poll_while, args=((node_a, node_b), TENANT_A, stop, seen))
    poller.start()
    try:
        result = cli("move-cell", "--code", TENANT_A, "--cell", CELL_B)
        assert result.returncode == 0, result.stdout + result.stderr
        assert login_page(node_b, TENANT_A, timeout=30) == 200
    finally:
        stop.set()
        poller.join()
    assert login_page(node_a, TENANT_A, timeout=0) == 404
    [(cell,)] = query(
        platform_db,
        "SELECT c.code FROM ipai_tenant t JOIN ipai_tenant_cell c ON c.id = t.cell_id "
        "WHERE t.code = %s",
        [TENANT_A],
    )
    assert cell == CELL_B
    last_old = max(at for at, index, status in seen if index == 0 and status == 200)
    first_new = min(at for at, index, status in seen if index == 1 and status == 200)
    assert first_new > last_old, "never served by both cells at once"
    print(f"\nmove between cells: downtime {first_new - last_old:.2f} s ({result.stdout.strip()})")
