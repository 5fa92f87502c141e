"""Benchmark: tenants from a warm template versus a fresh install.

Run by scripts/bench_provision.sh (which makes a throwaway platform database
and a tenant-serving Odoo); prints per-tenant p50/p95 and the ratio.

    bench_provision.py -c CONF -d PLATFORM_DB --tenants 20 --fresh 2 --server URL
"""

import statistics
import time

import click
import click_odoo
import requests


def percentile(values, fraction):
    ordered = sorted(values)
    index = min(round(fraction * (len(ordered) - 1)), len(ordered) - 1)
    return ordered[index]


def wait_for_login(server, host, dbname, login, password, timeout=60):
    """First successful JSON-RPC login at the tenant's host name: the tenant
    is usable from here on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.post(
            f"{server}/web/session/authenticate",
            headers={"Host": host},
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"db": dbname, "login": login, "password": password},
            },
            timeout=30,
        ).json()
        if response.get("result", {}).get("uid"):
            return
        time.sleep(0.05)
    raise RuntimeError(f"could not log in to {dbname}")


def provision(env, code):
    tenant = env["ipai.tenant"].create(
        {"code": code, "name": code, "admin_email": f"admin@{code}.example"}
    )
    tenant.action_provision()
    job = tenant.job_ids[:1]
    runner = job._runner()
    runner.claim()
    env.cr.commit()
    state = runner.run()
    env.invalidate_all()
    if state != "done":
        raise RuntimeError(f"{code}: {job.error}")
    password = tenant._reveal_secret_once("admin_password")
    env.cr.commit()
    return tenant, job, password


def fresh_install(env, dbname, modules):
    """What building a template costs: an empty database handed to the
    template owner, and the same separate Odoo (`-i`) logged in as it."""
    from odoo.addons.ipai_tenant_core.models import ipai_tenant_naming as naming
    from odoo.addons.ipai_tenant_core.provisioning import pg, templates

    server = env["ipai.tenant.server"]._default_server()._pg_server()
    owner = naming.template_owner_role(env["ipai.tenant"]._name_prefixes()[1])
    started = time.monotonic()
    pg.create_empty_database(server, dbname)
    pg.hand_over(server, dbname, owner, owner)
    templates.odoo_modules(dbname, modules, owner)
    return time.monotonic() - started


def step_medians(jobs):
    """Each step's p50 over the timed jobs: where the time goes."""
    durations = {}
    for job in jobs:
        for step in job.step_ids.sorted("sequence"):
            durations.setdefault(step.name, []).append(step.duration)
    return {name: statistics.median(values) for name, values in durations.items()}


@click.command()
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
@click.option("--tenants", default=20, show_default=True)
@click.option("--fresh", default=2, show_default=True, help="Fresh installs to time.")
@click.option("--server", required=True, help="URL of an Odoo serving the tenant databases.")
@click.option("--fresh-db-prefix", required=True)
def main(env, tenants, fresh, server, fresh_db_prefix):
    from odoo.addons.ipai_tenant_core.provisioning import operations

    click.echo("warming up: first tenant builds the template (not timed)")
    warm_tenant, _job, _password = provision(env, "bench-warmup")
    modules = operations.module_set(warm_tenant)
    click.echo(f"module set: {', '.join(modules)}")

    request_to_active, request_to_login, jobs = [], [], []
    for index in range(1, tenants + 1):
        code = f"bench-{index:03d}"
        started = time.monotonic()
        tenant, job, password = provision(env, code)
        jobs.append(job)
        active = time.monotonic() - started
        wait_for_login(
            server, tenant.primary_domain, tenant.database_name, tenant.admin_email, password
        )
        request_to_active.append(active)
        request_to_login.append(time.monotonic() - started)
        click.echo(f"  {code}: active {active:.3f}s, login-ready {request_to_login[-1]:.3f}s")

    fresh_times = []
    for index in range(1, fresh + 1):
        seconds = fresh_install(env, f"{fresh_db_prefix}{index}", modules)
        fresh_times.append(seconds)
        click.echo(f"  fresh install #{index}: {seconds:.2f}s")

    def line(label, values):
        return (
            f"{label:<34} p50 {statistics.median(values):7.3f}s   "
            f"p95 {percentile(values, 0.95):7.3f}s   n={len(values)}"
        )

    ratio = statistics.median(fresh_times) / statistics.median(request_to_login)
    click.echo("")
    click.echo(line("template: request -> active", request_to_active))
    click.echo(line("template: request -> login-ready", request_to_login))
    click.echo(line("fresh install (-i, no demo)", fresh_times))
    click.echo(f"{'speed-up (fresh p50 / login-ready p50)':<34} {ratio:.1f}x")
    first_login = [
        login - active for login, active in zip(request_to_login, request_to_active, strict=True)
    ]
    click.echo(line("active -> first login", first_login))
    click.echo(
        "step p50 (s): "
        + ", ".join(f"{name} {seconds:.3f}" for name, seconds in step_medians(jobs).items())
    )
    target_ok = statistics.median(request_to_login) <= 2.0 and ratio >= 10
    click.echo(f"targets (p50 <= 2 s, >= 10x): {'met' if target_ok else 'NOT met'}")


if __name__ == "__main__":
    main()
