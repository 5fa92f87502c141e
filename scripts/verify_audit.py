"""Verify the platform's audit trail: exit 0 when intact, 1 naming the first
bad or missing entry, 2 when the database is not a platform database (no
such database, or one without ipai_tenant_core): one line, nothing loaded.

    verify_audit.py -c .local/odoo.conf -d ipai_platform
"""

import contextlib
import sys

import click
import click_odoo
import psycopg2
from cli_input import Command, fail_input, one_line


def platform_database_problem(database):
    """Why ``database`` is no platform database, or None. Asked over a plain
    connection before Odoo loads a registry there: on another database Odoo
    would try to set itself up (and fail with a traceback)."""
    from odoo import sql_db

    def ask(dbname, statement, params=None):
        _dsn, options = sql_db.connection_info_for(dbname)
        with contextlib.closing(psycopg2.connect(**options)) as conn, conn.cursor() as cr:
            cr.execute(statement, params)
            return cr.fetchone()

    try:
        if not ask("postgres", "SELECT 1 FROM pg_database WHERE datname = %s", [database]):
            return f"no database named '{database}'"
    except psycopg2.Error as exc:
        return f"cannot reach PostgreSQL: {one_line(exc)}"
    try:
        installed = ask(
            database,
            "SELECT 1 FROM ir_module_module WHERE name = 'ipai_tenant_core' "
            "AND state = 'installed'",
        )
    except psycopg2.Error:
        installed = None
    if not installed:
        return f"{database} is not a platform database (ipai_tenant_core is not installed there)"
    return None


@contextlib.contextmanager
def platform_environment(database, rollback=False, **kwargs):
    """click_odoo's environment, on a platform database only."""
    problem = platform_database_problem(database)
    if problem:
        fail_input(problem)
    with click_odoo.OdooEnvironment(database, rollback=rollback, **kwargs) as env:
        yield env


@click.command(cls=Command)
@click_odoo.env_options(
    default_log_level="error", with_rollback=False, environment_manager=platform_environment
)
def main(env):
    problem = env["ipai.audit.log"].sudo()._verify_chain_message()
    if problem:
        click.echo(f"audit trail BROKEN: {problem}")
        sys.exit(1)
    count = env["ipai.audit.log"].sudo().search_count([])
    click.echo(f"audit trail intact: {count} entries")


if __name__ == "__main__":
    main()
