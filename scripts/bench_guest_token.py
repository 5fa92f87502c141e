"""`make bench-guest-token`: the guest-token route of a tenant's Odoo against
Superset's own guest-token endpoint, in one run, on this machine.

Sets up, all on loopback and all removed at the end: the local Superset
(scripts/superset.sh, stopped again if this started it), a throwaway tenant
database with ipai_bi_superset_embed, its Superset workspace with N extra
embedded dashboards, and a prefork Odoo serving it. Then measures, over HTTP:

  warm    GET /ipai_bi/dashboard/<id>/guest_token, token cached in the worker
  cold    the same route, first request of each of U users for each of N
          dashboards (guest token not cached; the Odoo sessions and
          Superset's access token are, as in steady state)
  superset  POST /api/v1/security/guest_token/ straight to Superset, as the
          tenant's service account, same payload and dashboards; interleaved
          with the cold requests so both see the same machine load

Also prints, as diagnostics interleaved with the same calls: the warm route,
and stock Odoo's /web/health with the same session, the fixed cost of any
request Odoo serves in that database (no route can go below it), so that the
cold path's own work (cold - Superset - that floor) is visible. Timed requests
use http.client, not requests, so that the client's own CPU stays out of the
figures as far as it can.

Prints p50/p95 (ms) and checks the targets: warm p50 < 5 ms, cold p50 at most
1.3x Superset's own p50. Exit code 1 when a target is missed.

    .venv/bin/python scripts/bench_guest_token.py [--warm 1000] [--cold 60] [--users 3]
                                                  [--superset 200]
"""

import argparse
import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import urllib.parse
from contextlib import closing
from pathlib import Path

import requests
from psycopg2 import sql

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = REPO_ROOT / ".local"
SUPERSET_SH = REPO_ROOT / "scripts" / "superset.sh"
sys.path.insert(0, str(REPO_ROOT / "addons" / "ipai_tenant_engine"))
# The tenant runtime's key derivation (a plain module: cryptography only).
sys.path.insert(0, str(REPO_ROOT / "addons" / "ipai_tenant_runtime"))

import credentials  # noqa: E402
import odoo.addons  # noqa: E402

# The platform's rules, which the workspace builder imports as an addon.
odoo.addons.__path__.append(str(REPO_ROOT / "addons"))
from odoo.addons.ipai_platform_rules import analytics  # noqa: E402
from provisioning import superset_workspace as workspace  # noqa: E402

# The integration tests' own PostgreSQL connection and free port.
sys.path.insert(0, str(REPO_ROOT))
from tests.support import JsonRpc, free_port  # noqa: E402
from tests.support import pg_connect as pg  # noqa: E402

WARM_TARGET_MS = 5.0
COLD_RATIO_TARGET = 1.3


def load_env_file(path):
    if path.is_file():
        for line in path.read_text().splitlines():
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                os.environ.setdefault(key, value)


def odoo_command(*args):
    odoo_src = Path((LOCAL_DIR / "odoo-src-path").read_text().strip())
    conf = os.environ.get("IPAI_ODOO_CONF", str(LOCAL_DIR / "odoo.conf"))
    return [sys.executable, str(odoo_src / "odoo-bin"), "-c", conf, "--load=base,web", *args]


def percentiles(samples):
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)],
    }


class TimedClient:
    """Times HTTP requests with http.client: about 0.6 ms of client CPU per
    request here, against ~2 ms for ``requests``, which a benchmark would
    otherwise count as server time (more for Odoo, whose prefork workers
    answer HTTP/1.0 and close the connection, than for Superset's gunicorn,
    which keeps it open). The connection is reused while the server keeps it
    open and reopened, inside the timing, when the server closed it."""

    def __init__(self, base_url, headers=None):
        parts = urllib.parse.urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.headers = headers or {}

    @classmethod
    def for_session(cls, base_url, session):
        """A client sending the cookies of a logged-in ``requests`` session."""
        cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
        return cls(base_url, {"Cookie": cookie})

    def timed(self, method, path, payload=None):
        """Milliseconds from sending the request to having read the whole answer."""
        headers = dict(self.headers)
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {response.status} {data[:200]!r}")
        return elapsed


class Bench:
    def __init__(self, args):
        self.args = args
        self.run = f"ipai_bench_bi_{os.getpid()}"
        self.code = f"bench{os.getpid()}"
        self.database = self.run
        self.role = f"{self.run}_r"
        self.schema = f"tenant_{self.code}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.odoo = None
        self.started_superset = False
        self.api = None

    # ---------------------------------------------------------------- setup

    def start_superset(self):
        running = subprocess.run([str(SUPERSET_SH), "status"], capture_output=True).returncode == 0
        if not running:
            subprocess.run([str(SUPERSET_SH), "start"], check=True)
            self.started_superset = True
        settings = dict(
            line.split("=", 1)
            for line in subprocess.run(
                [str(SUPERSET_SH), "env"], capture_output=True, text=True, check=True
            ).stdout.splitlines()
            if "=" in line
        )
        load_env_file(Path(settings["SUPERSET_ENV_FILE"]))
        self.superset_url = settings["SUPERSET_URL"]
        self.api = workspace.SupersetApi(
            self.superset_url, "admin", os.environ["SUPERSET_ADMIN_PASSWORD"]
        )

    def create_tenant_database(self):
        print(f"installing ipai_bi_superset_embed into {self.database} ...", flush=True)
        subprocess.run(
            odoo_command(
                "-d",
                self.database,
                "-i",
                "ipai_bi_superset_embed",
                "--stop-after-init",
                "--workers=0",
                "--max-cron-threads=0",
                "--log-level=warn",
            ),
            check=True,
            capture_output=True,
        )
        self.role_password = secrets.token_urlsafe(18)
        with closing(pg()) as conn, conn.cursor() as cr:
            cr.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(self.role), sql.Literal(self.role_password)
                )
            )
        with closing(pg(self.database)) as conn, conn.cursor() as cr:
            schema = sql.Identifier(self.schema)
            cr.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
            cr.execute(
                sql.SQL(
                    "CREATE TABLE {}.sales (tenant_code text, region text, amount numeric)"
                ).format(schema)
            )
            cr.execute(
                sql.SQL("INSERT INTO {}.sales VALUES (%s, 'north', 10), (%s, 'south', 20)").format(
                    schema
                ),
                [self.code, self.code],
            )
            cr.execute(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, sql.Identifier(self.role))
            )
            cr.execute(
                sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
                    schema, sql.Identifier(self.role)
                )
            )

    def create_workspace(self):
        spec = workspace.WorkspaceSpec(
            code=self.code,
            database_uri=f"postgresql+psycopg2://{self.role}@127.0.0.1:5432/{self.database}",
            database_password=self.role_password,
            schema=self.schema,
            tables=("sales",),
            allowed_domains=(self.url,),
        )
        self.workspace = workspace.ensure_workspace(self.api, spec, reset_service_password=True)
        params = {
            "ipai_tenant.code": self.code,
            "ipai_bi_superset_embed.superset_url": self.superset_url,
            "ipai_bi_superset_embed.username": self.workspace.service_username,
            "ipai_bi_superset_embed.password": credentials.seal_for_database(
                self.database, url=self.superset_url, password=self.workspace.service_password
            ),
            "ipai_bi_superset_embed.workspace": workspace.workspace_name(self.code),
        }
        with closing(pg(self.database)) as conn, conn.cursor() as cr:
            for key, value in params.items():
                cr.execute(
                    """INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)
                       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value""",
                    [key, value],
                )

    def start_odoo(self):
        (LOCAL_DIR / "logs").mkdir(parents=True, exist_ok=True)
        log = open(LOCAL_DIR / "logs" / f"{self.run}.log", "wb")  # noqa: SIM115
        self.odoo = subprocess.Popen(
            odoo_command(
                "-d",
                self.database,
                f"--db-filter=^{self.database}$",
                f"--http-port={self.port}",
                f"--gevent-port={free_port()}",
                "--workers=2",
                "--max-cron-threads=0",
                "--log-level=warn",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/web/health", timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.5)
        raise RuntimeError("Odoo did not start; see .local/logs/" + self.run + ".log")

    def rpc(self, session, model, method, *args, **kwargs):
        response = session.post(
            f"{self.url}/web/dataset/call_kw",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
            },
            timeout=120,
        )
        payload = response.json()
        if "error" in payload:
            raise RuntimeError(payload["error"]["data"]["message"])
        return payload["result"]

    def login(self, login, password):
        return JsonRpc(self.url, self.database, login, password).session

    def create_dashboards(self):
        """The workspace's own dashboard plus ``--cold`` more, embedded, so
        that each cold request is a first request for its dashboard."""
        service_id = self.api.find(
            "security/users", [("username", "eq", self.workspace.service_username)]
        )[0]["id"]
        admin_id = self.api.get("/api/v1/me/")["result"]["id"]
        uuids = [self.workspace.embedded_uuid]
        self.extra_dashboards = []
        for n in range(self.args.cold):
            dashboard_id = self.api.post(
                "/api/v1/dashboard/",
                {
                    "dashboard_title": f"bench {n}",
                    "slug": workspace.dashboard_slug(self.code, f"bench{n}"),
                    "published": True,
                    "owners": [service_id, admin_id],
                },
            )["id"]
            self.extra_dashboards.append(dashboard_id)
            uuids.append(
                self.api.post(
                    f"/api/v1/dashboard/{dashboard_id}/embedded", {"allowed_domains": [self.url]}
                )["result"]["uuid"]
            )
        admin_password = secrets.token_urlsafe(12)
        subprocess.run(
            [
                str(Path(sys.executable).parent / "click-odoo"),
                "-c",
                os.environ.get("IPAI_ODOO_CONF", str(LOCAL_DIR / "odoo.conf")),
                "-d",
                self.database,
                str(REPO_ROOT / "scripts" / "set_admin_password.py"),
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "IPAI_ADMIN_PASSWORD": admin_password},
        )
        self.admin = self.login("admin", admin_password)
        # More users than dashboards to create: each (user, dashboard) pair
        # is one first request, U x N cold samples from N dashboards.
        self.users = [self.admin]
        group_user = self.rpc(
            self.admin, "ir.model.data", "check_object_reference", "base", "group_user"
        )[1]
        for n in range(1, self.args.users):
            password = secrets.token_urlsafe(12)
            self.rpc(
                self.admin,
                "res.users",
                "create",
                {
                    "name": f"Bench user {n}",
                    "login": f"bench{n}",
                    "password": password,
                    "groups_id": [(6, 0, [group_user])],
                },
            )
            self.users.append(self.login(f"bench{n}", password))
        ids = self.rpc(
            self.admin,
            "ipai.bi.dashboard",
            "create",
            [{"name": f"Bench {n}", "embedded_uuid": uuid} for n, uuid in enumerate(uuids)],
        )
        self.dashboard_id, self.cold_ids, self.cold_uuids = ids[0], ids[1:], uuids[1:]

    # -------------------------------------------------------------- measure

    def route(self, dashboard_id):
        return f"/ipai_bi/dashboard/{dashboard_id}/guest_token"

    def measure(self):
        route = self.route(self.dashboard_id)
        admin = TimedClient.for_session(self.url, self.admin)
        users = [TimedClient.for_session(self.url, user) for user in self.users]
        # Each worker's first request logs in to Superset, and each user's
        # first request in a worker fills its access check: Odoo closes every
        # connection, so successive requests reach both workers.
        for user in users:
            for _ in range(10):
                user.timed("GET", route)
        warm = [admin.timed("GET", route) for _ in range(self.args.warm)]
        bearer = requests.post(
            f"{self.superset_url}/api/v1/security/login",
            json={
                "username": self.workspace.service_username,
                "password": self.workspace.service_password,
                "provider": "db",
            },
            timeout=10,
        ).json()["access_token"]
        direct = TimedClient(self.superset_url, {"Authorization": f"Bearer {bearer}"})

        def superset_call(uuid=self.workspace.embedded_uuid):
            return direct.timed(
                "POST",
                "/api/v1/security/guest_token/",
                {
                    "user": {"username": "bench", "first_name": "bench", "last_name": ""},
                    "resources": [{"type": "dashboard", "id": uuid}],
                    "rls": [{"clause": analytics.rls_clause(self.code)}],
                },
            )

        for _ in range(10):
            superset_call()
        # Interleaved: a cold Odoo request, a direct Superset request, a warm
        # Odoo request, a direct Superset request, Odoo's own /web/health
        # with the same session, and again; so that all of them see the same
        # machine (load, idle gaps) at the same time. The last two are
        # diagnostics, not targets: the warm route as the cold requests see
        # it, and stock Odoo's cost of any request in this database (session,
        # registry signalling, session check, dispatch, a JSON answer), which
        # no route served by Odoo can go below.
        cold, superset, warm_interleaved, odoo_floor = [], [], [], []
        for user in users:
            for dashboard_id, uuid in zip(self.cold_ids, self.cold_uuids, strict=True):
                cold.append(user.timed("GET", self.route(dashboard_id)))
                superset.append(superset_call(uuid))
                warm_interleaved.append(admin.timed("GET", route))
                superset.append(superset_call(uuid))
                odoo_floor.append(admin.timed("GET", "/web/health"))
        superset += [superset_call() for _ in range(max(self.args.superset - len(superset), 0))]
        return {
            "warm": percentiles(warm),
            "cold": percentiles(cold),
            "superset": percentiles(superset),
            "warm_interleaved": percentiles(warm_interleaved),
            "odoo_floor": percentiles(odoo_floor),
        }

    # -------------------------------------------------------------- cleanup

    def cleanup(self):
        if self.odoo and self.odoo.poll() is None:
            self.odoo.terminate()
            self.odoo.wait(timeout=30)
        if self.api is not None:
            try:
                for dashboard_id in getattr(self, "extra_dashboards", []):
                    self.api.delete(f"/api/v1/dashboard/{dashboard_id}")
                workspace.remove_workspace(self.api, self.code)
            except workspace.PermanentError as exc:
                print(f"warning: could not remove the bench workspace: {exc}", file=sys.stderr)
        with closing(pg()) as conn, conn.cursor() as cr:
            cr.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.database)
                )
            )
            cr.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(self.role)))
        subprocess.run(
            ["rm", "-rf", str(LOCAL_DIR / "data" / "filestore" / self.database)], check=False
        )
        if self.started_superset:
            subprocess.run([str(SUPERSET_SH), "stop"], check=False)


def report(results):
    print()
    print(f"{'guest token':<38}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}")
    labels = {
        "warm": "Odoo route, warm cache",
        "cold": "Odoo route, cold cache",
        "superset": "Superset /security/guest_token/",
        "warm_interleaved": "Odoo route, warm, interleaved",
        "odoo_floor": "Odoo's own /web/health, interleaved",
    }
    for key, label in labels.items():
        row = results[key]
        print(f"{label:<38}{row['n']:>6}{row['p50']:>10.2f}{row['p95']:>10.2f}")
    ratio = results["cold"]["p50"] / results["superset"]["p50"]
    extra = results["cold"]["p50"] - results["superset"]["p50"]
    floor = results["odoo_floor"]["p50"]
    warm_own = results["warm_interleaved"]["p50"] - floor
    print()
    print(
        f"Odoo's floor (stock /web/health, same session): {floor:.2f} ms; "
        f"the warm route's own work {warm_own:.2f} ms on top"
    )
    print(
        f"cold - Superset = {extra:.2f} ms: Odoo's floor {floor:.2f} ms "
        f"+ the cold path's own work {extra - floor:.2f} ms"
    )
    print(
        f"Odoo's floor alone is {floor / WARM_TARGET_MS:.2f} x the warm target and "
        f"{(results['superset']['p50'] + floor) / results['superset']['p50']:.2f} x "
        "Superset's p50 when added to it"
    )
    warm_ok = results["warm"]["p50"] < WARM_TARGET_MS
    cold_ok = ratio <= COLD_RATIO_TARGET
    print()
    print(f"warm p50 < {WARM_TARGET_MS} ms: {'PASS' if warm_ok else 'FAIL'}")
    print(
        f"cold p50 / Superset p50 = {ratio:.2f} (target <= {COLD_RATIO_TARGET}): "
        f"{'PASS' if cold_ok else 'FAIL'}"
    )
    print(json.dumps({"results": results, "cold_ratio": round(ratio, 3)}))
    return warm_ok and cold_ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=1000)
    parser.add_argument("--cold", type=int, default=60, help="dashboards for cold requests")
    parser.add_argument("--users", type=int, default=3, help="users making cold requests")
    parser.add_argument("--superset", type=int, default=200)
    args = parser.parse_args()
    load_env_file(LOCAL_DIR / "env")
    os.environ.setdefault("PGPASSWORD", os.environ.get("IPAI_DB_PASSWORD", ""))
    # Where the child processes (Odoo, click-odoo) find PostgreSQL too.
    os.environ.setdefault("PGHOST", "127.0.0.1")
    os.environ.setdefault("PGPORT", "5432")
    bench = Bench(args)
    try:
        bench.start_superset()
        bench.create_tenant_database()
        bench.create_workspace()
        bench.start_odoo()
        bench.create_dashboards()
        results = bench.measure()
    finally:
        bench.cleanup()
    sys.exit(0 if report(results) else 1)


if __name__ == "__main__":
    main()
