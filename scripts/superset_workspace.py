"""Create (or complete) a tenant's Apache Superset workspace, idempotently.

    superset_workspace.py -c .local/odoo.conf -d ipai_platform --code acme
                          [--table sales --table ...] [--allowed-domain http://...]
    superset_workspace.py ... --code acme --remove
    superset_workspace.py ... --code acme --check-only   # bad input? (exit 2) nothing else

Superset's address and administrator come from the environment
(SUPERSET_URL, SUPERSET_ADMIN_USERNAME, SUPERSET_ADMIN_PASSWORD); when they are
not set, those of the local Superset (scripts/superset.sh, .local/superset/env)
are used. Prints what it created; a rerun prints that nothing changed.
Exit codes: 0 done, 1 Superset or the tenant database failed, 2 bad input.
"""

import os
import sys
from pathlib import Path

import click
import click_odoo
from cli_input import NON_EMPTY, Command, fail_input

REPO_ROOT = Path(__file__).resolve().parent.parent
FAILED = 1


def load_local_superset_env():
    """Values from .local/superset/env that the environment does not set."""
    path = Path(os.environ.get("SUPERSET_ENV_FILE", REPO_ROOT / ".local" / "superset" / "env"))
    if path.is_file():
        for line in path.read_text().splitlines():
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                os.environ.setdefault(key, value)
    port = os.environ.get("SUPERSET_PORT", "8088")
    os.environ.setdefault("SUPERSET_URL", f"http://127.0.0.1:{port}")
    os.environ.setdefault("SUPERSET_ADMIN_USERNAME", "admin")


@click.command(cls=Command)
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
@click.option("--code", required=True, type=NON_EMPTY, help="Tenant code.")
@click.option("--table", "tables", multiple=True, help="Table or view of the analytics schema.")
@click.option("--allowed-domain", "domains", multiple=True, help="Extra origin allowed to embed.")
@click.option("--remove", is_flag=True, help="Delete the workspace from Superset instead.")
@click.option(
    "--check-only",
    is_flag=True,
    help="Only check the arguments (scripts/superset.sh, before it starts Superset).",
)
def main(env, code, tables, domains, remove, check_only):
    """Provision a tenant's Superset workspace."""
    from odoo.addons.ipai_tenant_core.infra.errors import ProvisioningError
    from odoo.addons.ipai_tenant_engine.provisioning import superset_workspace as workspace

    load_local_superset_env()
    tenant = env["ipai.tenant"].search([("code", "=", code)])
    if not tenant:
        fail_input(f"no tenant with code '{code}'")
    if tenant.state not in ("active", "suspended"):
        fail_input(f"tenant '{code}' is {tenant.state}, it has no database")
    if check_only:
        return
    try:
        if remove:
            api = workspace.SupersetApi(
                os.environ["SUPERSET_URL"],
                os.environ["SUPERSET_ADMIN_USERNAME"],
                os.environ.get("SUPERSET_ADMIN_PASSWORD", ""),
            )
            workspace.remove_workspace(api, code)
            click.echo(f"removed the Superset workspace of {code}")
            return
        result, _pushed = workspace.provision_tenant(
            env, tenant, tenant._pg_server(), tables=tables, extra_domains=domains, log=click.echo
        )
    except ProvisioningError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(FAILED)
    click.echo(f"workspace:  {workspace.workspace_name(code)}")
    click.echo(f"dashboard:  {result.dashboard_slug} (embedded uuid {result.embedded_uuid})")
    click.echo(f"account:    {result.service_username}")


if __name__ == "__main__":
    main()
