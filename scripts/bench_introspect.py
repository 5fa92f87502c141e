"""`make bench-introspect CODE=acme`: how long documenting a tenant
database's schema takes, as the tenant form's button and
`make introspect-tenant` do it: the catalogs read as the tenant's own role,
then DBML, Markdown and ERD JSON written (in memory here).

Prints each round's phases and the median; the target is a tenant on the
enterprise plan's modules documented (all three formats) in at most 5 s.
Exit code 1 when the median misses it.

    .venv/bin/python scripts/bench_introspect.py -c .local/odoo.conf -d ipai_platform \\
        --code acme [--rounds 5]
"""

import statistics
import sys
import time

import click
import click_odoo
from cli_input import NON_EMPTY, POSITIVE, Command, fail_input

TARGET_SECONDS = 5.0


@click.command(cls=Command)
@click_odoo.env_options(default_log_level="warn")
@click.option(
    "--code", required=True, type=NON_EMPTY, help="The tenant to document (active or suspended)."
)
@click.option("--rounds", default=5, show_default=True, type=POSITIVE)
def main(env, code, rounds):
    from odoo.addons.ipai_tenant_engine.provisioning import introspect

    tenant = env["ipai.tenant"].search([("code", "=", code)])
    if not tenant:
        fail_input(f"no tenant with code '{code}'")
    if tenant.state not in ("active", "suspended"):
        fail_input(f"tenant '{code}' is {tenant.state}: it has no database to document")
    modules = tenant.plan_id._module_names()
    click.echo(f"tenant {code}: plan {tenant.plan_id.code} ({', '.join(modules)})")
    totals = []
    for round_number in range(1, rounds + 1):
        started = time.perf_counter()
        schema = tenant._introspect_schema()
        phases = {"read": time.perf_counter() - started}
        sizes = {}
        for fmt in introspect.FORMATS:
            begun = time.perf_counter()
            sizes[fmt] = len(introspect.render(schema, fmt))
            phases[fmt] = time.perf_counter() - begun
        total = time.perf_counter() - started
        totals.append(total)
        if round_number == 1:
            click.echo(
                f"{len(schema.tables)} tables and views, {len(schema.foreign_keys)} foreign keys, "
                f"{sum(len(t.indexes) for t in schema.tables)} indexes, {len(schema.enums)} enums; "
                + ", ".join(f"{fmt} {size / 1024:.0f} KiB" for fmt, size in sizes.items())
            )
        click.echo(
            f"round {round_number}: "
            + ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in phases.items())
            + f", total {total * 1000:.0f} ms"
        )
    median = statistics.median(totals)
    verdict = "met" if median <= TARGET_SECONDS else "MISSED"
    click.echo(f"median total {median * 1000:.0f} ms (target <= {TARGET_SECONDS:.0f} s: {verdict})")
    sys.exit(0 if median <= TARGET_SECONDS else 1)


if __name__ == "__main__":
    main()
