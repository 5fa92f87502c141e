"""The control plane's /metrics (ipai_platform_metrics) on a real server,
scraped by a real Prometheus (Debian's) with the configuration and alert
rules of deploy/prometheus/, which promtool checks."""

import contextlib
import os
import shutil
import subprocess
import time

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from .support import (
    LOCAL_DIR,
    REPO_ROOT,
    RUN_ID,
    ServedProcess,
    paused_cron,
    provision,
    query,
)

DEPLOY = REPO_ROOT / "deploy" / "prometheus"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
TOKEN_PARAM = "ipai_platform_metrics.token"
CODE = "metrics-one"
RUNNER_CRON = "ir_cron_run_tenant_jobs"
TENANTS_BY_PLAN_AND_STATE = """
    SELECT p.code, t.state, count(*)
      FROM ipai_tenant t JOIN ipai_tenant_plan p ON p.id = t.plan_id
  GROUP BY p.code, t.state"""


@pytest.fixture(scope="module")
def token(platform_db):
    [(value,)] = query(
        platform_db, "SELECT value FROM ir_config_parameter WHERE key = %s", [TOKEN_PARAM]
    )
    assert len(value) >= 40  # secrets.token_urlsafe(32)
    return value


def scrape(server, token):
    response = requests.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return response


def samples(text):
    """{metric name: {frozenset of label items: value}} of an exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return found


def value(found, name, **labels):
    return found[name][frozenset(labels.items())]


def tenants_in_database(platform_db):
    return {
        (plan, state): count for plan, state, count in query(platform_db, TENANTS_BY_PLAN_AND_STATE)
    }


def tenant_id(admin_rpc, code):
    [found] = admin_rpc.call("ipai.tenant", "search", [("code", "=", code)])
    return found


def backdate(platform_db, table, record_id, interval):
    query(
        platform_db,
        f"UPDATE {table} SET create_date = now() AT TIME ZONE 'UTC' - %s::interval WHERE id = %s",
        [interval, record_id],
    )


@contextlib.contextmanager
def waiting_job(platform_db, admin_rpc, tenant):
    """A backup job of ``tenant`` queued 20 minutes ago that the runner
    (paused) has not taken; cancelled after."""
    with paused_cron(platform_db, RUNNER_CRON):
        admin_rpc.call("ipai.tenant", "action_backup", [tenant])
        [(job,)] = query(
            platform_db,
            "SELECT id FROM ipai_tenant_job WHERE tenant_id = %s AND state = 'queued'",
            [tenant],
        )
        backdate(platform_db, "ipai_tenant_job", job, "20 minutes")
        try:
            yield job
        finally:
            admin_rpc.call("ipai.tenant.job", "action_cancel", [job])


@pytest.fixture(scope="module")
def provisioned(platform_server, platform_db, cli, token):
    """The metrics before and after the tenant CODE was provisioned."""
    before = samples(scrape(platform_server, token).text)
    provision(cli, CODE)
    after = samples(scrape(platform_server, token).text)
    return before, after


def test_metrics_match_the_platform_database(
    platform_server, admin_rpc, platform_db, token, provisioned
):
    before, after = provisioned
    now = samples(scrape(platform_server, token).text)
    tenants = now["ipai_tenants"]
    # Every tenant counted once, under its state and plan code.
    expected = tenants_in_database(platform_db)
    counted = {(dict(labels)["plan"], dict(labels)["state"]): n for labels, n in tenants.items()}
    assert {key: n for key, n in counted.items() if n} == expected
    active = admin_rpc.call("ipai.tenant", "search_count", [("state", "=", "active")])
    assert active > 0
    assert sum(n for (_plan, state), n in counted.items() if state == "active") == active
    # Zero where nothing is: a rule comparing the series still sees it.
    assert counted[("trial", "suspended")] == expected.get(("trial", "suspended"), 0)

    [(plan,)] = query(
        platform_db,
        "SELECT p.code FROM ipai_tenant t JOIN ipai_tenant_plan p ON p.id = t.plan_id "
        "WHERE t.code = %s",
        [CODE],
    )
    assert value(after, "ipai_tenants", state="active", plan=plan) == (
        value(before, "ipai_tenants", state="active", plan=plan) + 1
    )
    done = {"kind": "create", "state": "done"}
    assert value(after, "ipai_jobs", **done) == value(before, "ipai_jobs", **done) + 1
    # Its steps: counted and timed by step code, as the database has them.
    steps = query(
        platform_db,
        "SELECT name, count(*), sum(duration) FROM ipai_tenant_job_step "
        "WHERE state = 'done' GROUP BY name",
    )
    counts = now["ipai_job_step_duration_seconds_count"]
    assert {dict(labels)["step"]: n for labels, n in counts.items()} == {
        name: count for name, count, _seconds in steps
    }
    for name, _count, seconds in steps:
        assert value(now, "ipai_job_step_duration_seconds_sum", step=name) == pytest.approx(
            float(seconds or 0)
        )
    made = after["ipai_job_step_duration_seconds_count"]
    # None before, on a new platform: a step appears once it first finished.
    made_before = before.get("ipai_job_step_duration_seconds_count", {})
    assert sum(made.values()) > sum(made_before.values())
    # The new tenant has no backup yet: its age counts from its creation.
    assert 0 <= value(after, "ipai_tenant_last_backup_age_seconds", tenant=CODE) < 600
    assert CODE not in str(before.get("ipai_tenant_last_backup_age_seconds", {}))
    # Billing: subscribed tenants as the database has them today.
    [(subscribed,)] = query(
        platform_db,
        """SELECT count(*) FROM ipai_tenant
            WHERE subscription_start <= current_date
              AND (subscription_end IS NULL OR subscription_end > current_date)""",
    )
    assert value(after, "ipai_billing_subscribed_tenants") == subscribed
    assert (
        value(after, "ipai_webhook_deliveries", state="failed")
        == query(platform_db, "SELECT count(*) FROM ipai_webhook_delivery WHERE state = 'failed'")[
            0
        ][0]
    )


def test_queue_age_and_backup_age_follow_the_engine(
    platform_server, admin_rpc, platform_db, cli, token, provisioned
):
    tenant = tenant_id(admin_rpc, CODE)
    with waiting_job(platform_db, admin_rpc, tenant):
        found = samples(scrape(platform_server, token).text)
        assert 1200 <= value(found, "ipai_job_queue_oldest_age_seconds") < 1300
        assert value(found, "ipai_jobs", kind="backup", state="queued") >= 1
    found = samples(scrape(platform_server, token).text)
    assert value(found, "ipai_job_queue_oldest_age_seconds") == 0

    # A tenant made 30 hours ago without a backup, then backed up.
    backdate(platform_db, "ipai_tenant", tenant, "30 hours")
    found = samples(scrape(platform_server, token).text)
    assert value(found, "ipai_tenant_last_backup_age_seconds", tenant=CODE) >= 30 * 3600
    result = cli("backup", "--code", CODE)
    assert result.returncode == 0, result.stdout + result.stderr
    found = samples(scrape(platform_server, token).text)
    assert value(found, "ipai_tenant_last_backup_age_seconds", tenant=CODE) < 300
    [(untested,)] = query(
        platform_db, "SELECT count(*) FROM ipai_tenant_backup WHERE test_state = 'untested'"
    )
    assert value(found, "ipai_backups", test="untested") == untested >= 1


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({}, {}),
        ({"Authorization": "Bearer not-the-token"}, {}),
        ({"Authorization": "Bearer "}, {}),
        ("basic", {}),
        ({}, "token"),
        ({}, "access_token"),
    ],
    ids=["none", "wrong", "empty", "basic", "query-token", "query-access-token"],
)
def test_metrics_refused_without_the_token(platform_server, token, headers, params):
    if headers == "basic":
        headers = {}
        auth = ("prometheus", token)
    else:
        auth = None
    if isinstance(params, str):
        params = {params: token}
    response = requests.get(
        f"{platform_server.url}/metrics", headers=headers, params=params, auth=auth, timeout=30
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "ipai_" not in response.text
    assert response.text == ""


def test_tenant_runtime_has_no_metrics(tenant_server, token, provisioned):
    response = requests.get(
        f"{tenant_server.url}/metrics",
        headers={"Host": f"{CODE}.localhost", "Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 404
    assert "ipai_" not in response.text


class Prometheus(ServedProcess):
    """Debian's Prometheus on a free port, with deploy/prometheus/prometheus.yml
    pointed at ``target`` (host:port, plain HTTP) and the token in a file,
    scraping and evaluating every second; its data in ``folder``."""

    stop_grace = 10

    def __init__(self, folder, target, token):
        super().__init__(LOCAL_DIR / "logs" / f"{RUN_ID}-prometheus.log")
        self.folder = folder
        token_file = folder / "token"
        token_file.write_text(token)
        token_file.chmod(0o600)
        config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(DEPLOY / name) for name in config["rule_files"]]
        [job] = config["scrape_configs"]
        job.update(scheme="http", scrape_timeout="1s", static_configs=[{"targets": [target]}])
        job["authorization"]["credentials_file"] = str(token_file)
        self.config = folder / "prometheus.yml"
        self.config.write_text(yaml.safe_dump(config))

    def start(self):
        self.launch(
            [
                PROMETHEUS,
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            env=os.environ.copy(),
        )
        return self.await_ready(
            "prometheus",
            60,
            0.2,
            lambda: requests.get(f"{self.url}/-/ready", timeout=5).status_code == 200,
        )

    def api(self, path, **params):
        response = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        response.raise_for_status()
        return response.json()["data"]

    def query(self, promql):
        """{frozenset of label items (no __name__): value}."""
        return {
            frozenset((k, v) for k, v in row["metric"].items() if k != "__name__"): float(
                row["value"][1]
            )
            for row in self.api("query", query=promql)["result"]
        }

    def wait_for(self, what, check, timeout=30):
        deadline = time.monotonic() + timeout
        while not (result := check()):
            assert time.monotonic() < deadline, f"prometheus: {what} within {timeout}s"
            time.sleep(0.5)
        return result


@pytest.fixture(scope="module")
def prometheus(platform_server, token, tmp_path_factory):
    server = Prometheus(
        tmp_path_factory.mktemp("prometheus"), f"127.0.0.1:{platform_server.port}", token
    ).start()
    yield server
    server.stop()


def test_promtool_checks_the_rendered_configuration(prometheus):
    checked = subprocess.run(
        [PROMTOOL, "check", "config", str(prometheus.config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout + checked.stderr


def test_prometheus_scrapes_the_control_plane(prometheus, platform_db, admin_rpc, provisioned):
    prometheus.wait_for(
        "the target up",
        lambda: list(prometheus.query('up{job="ipai-platform"}').values()) == [1.0],
    )

    def tenants_match():
        series = prometheus.query("ipai_tenants")
        counted = {}
        for labels, n in series.items():
            labels = dict(labels)
            assert {"job", "instance", "plan", "state"} == set(labels)
            counted[(labels["plan"], labels["state"])] = n
        return {key: n for key, n in counted.items() if n} == tenants_in_database(platform_db)

    prometheus.wait_for("ipai_tenants as in the database", tenants_match)
    active = prometheus.query('sum(ipai_tenants{state="active"})')
    assert list(active.values()) == [
        float(admin_rpc.call("ipai.tenant", "search_count", [("state", "=", "active")]))
    ]
    [age] = prometheus.query(f'ipai_tenant_last_backup_age_seconds{{tenant="{CODE}"}}').values()
    assert 0 <= age < 30 * 3600

    rules = prometheus.api("rules")["groups"]
    assert [group["name"] for group in rules] == ["ipai-platform"]
    assert {rule["name"] for rule in rules[0]["rules"]} == {
        "PlatformMetricsDown",
        "JobQueueStuck",
        "JobsFailing",
        "TenantBackupMissing",
        "WarmPoolEmpty",
    }
    assert {rule["health"] for rule in rules[0]["rules"]} == {"ok"}


def test_prometheus_alerts_on_a_stuck_queue(prometheus, platform_db, admin_rpc, provisioned):
    """The shipped rule on real scraped data: a due job waiting 20 minutes
    makes JobQueueStuck pending at once (firing after its `for`); taken
    away, the alert goes."""
    tenant = tenant_id(admin_rpc, CODE)

    def stuck():
        return [
            alert
            for alert in prometheus.api("alerts")["alerts"]
            if alert["labels"]["alertname"] == "JobQueueStuck"
        ]

    assert not stuck()
    with waiting_job(platform_db, admin_rpc, tenant):
        [alert] = prometheus.wait_for("JobQueueStuck pending", stuck)
        assert alert["state"] in ("pending", "firing")
        assert set(alert["labels"]) == {"alertname", "severity", "job", "instance"}
        assert float(alert["value"]) >= 1200
    prometheus.wait_for("JobQueueStuck gone", lambda: not stuck())


def test_promtool_checks_and_tests_the_rules():
    for command in (
        [PROMTOOL, "check", "rules", str(DEPLOY / "alerts.yml")],
        [PROMTOOL, "check", "config", "--syntax-only", str(DEPLOY / "prometheus.yml")],
        [PROMTOOL, "test", "rules", str(DEPLOY / "alerts_test.yml")],
    ):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout + result.stderr
