"""Usage of a tenant database, read with SQL by the platform.

Pulled rather than pushed: the tenant database needs no credentials for the
platform, and a tenant cannot under-report.
"""

import psycopg2
from odoo.addons.ipai_tenant_core.infra import pg
from psycopg2 import sql

from . import filestore, runtime_access

# Business documents that count as "transactions" against the plan, when
# their module is installed in the tenant database.
TRANSACTION_TABLES = (
    "account_move",
    "sale_order",
    "purchase_order",
    "stock_picking",
    "crm_lead",
    "project_task",
    "res_partner",
)


# The tables the counts read: they must be plain tables, with no row
# security, or the tenant (who owns them) steered what the platform sees.
COUNTED_TABLES = ("res_users", "res_company", "res_groups_users_rel", "ir_model_data")


class Tampering(Exception):
    """The tenant's database was arranged so that its usage cannot be
    counted truly (a view or a row-security policy in place of a table, an
    impossible count); the message says what was found."""


def collect(server, dbname, role, cell=None):
    """Counted as the tenant's own role (nothing the tenant planted runs with
    the platform's rights), in a session the tenant cannot steer: a fixed
    search path, tables named by schema, row security off (PostgreSQL then
    refuses a query a policy would filter rather than filtering it).
    Tampering is raised when a counted table is not a plain table, carries a
    row-security policy, or a count is impossible."""
    as_tenant = runtime_access.as_role(server, role, cell)
    with as_tenant.connect(dbname) as conn, conn.cursor() as cr:
        cr.execute("SET search_path = pg_catalog, pg_temp")
        cr.execute("SET row_security = off")
        tables = _existing_tables(cr, COUNTED_TABLES + TRANSACTION_TABLES)
        _check_plain_tables(cr, tables)
        try:
            users, companies, records = _counts(cr, [t for t in TRANSACTION_TABLES if t in tables])
        except psycopg2.errors.InsufficientPrivilege as exc:  # a policy would filter
            raise Tampering(f"row-level security on a counted table: {exc}".strip()) from exc
    if users < 1 or companies < 1:
        raise Tampering(f"impossible counts: {users} internal users, {companies} companies")
    return {
        "internal_users": users,
        "companies": companies,
        "records_month": records,
        "db_size_mb": pg.database_size(server, dbname) / 1024 / 1024,
        "filestore_mb": filestore.size(dbname) / 1024 / 1024,
    }


def _existing_tables(cr, names):
    cr.execute(
        """SELECT c.relname FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relname = ANY(%s)""",
        [list(names)],
    )
    return {name for (name,) in cr.fetchall()}


def _check_plain_tables(cr, tables):
    cr.execute(
        """SELECT c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
                  EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid)
             FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relname = ANY(%s)""",
        [sorted(tables)],
    )
    found = []
    for name, kind, row_security, forced, has_policy in cr.fetchall():
        if kind != "r":
            found.append(f"public.{name} is not a table (relkind {kind})")
        if row_security or forced or has_policy:
            found.append(f"public.{name} has row-level security")
    missing = set(COUNTED_TABLES) - tables
    if missing:
        found.append(f"missing tables: {', '.join(sorted(missing))}")
    if found:
        raise Tampering("; ".join(found))


def _counts(cr, transaction_tables):
    # Internal users as Odoo's limits see them: active, not the superuser,
    # and either not ``share`` or in the Internal User group (a row inserted
    # by SQL with ``share`` left true is still an internal user).
    cr.execute(
        """SELECT count(*) FROM public.res_users u
            WHERE u.active AND u.id <> 1
              AND (NOT u.share OR EXISTS (
                   SELECT 1 FROM public.res_groups_users_rel r
                     JOIN public.ir_model_data d
                       ON d.model = 'res.groups' AND d.module = 'base'
                      AND d.name = 'group_user' AND d.res_id = r.gid
                    WHERE r.uid = u.id))"""
    )
    (users,) = cr.fetchone()
    cr.execute("SELECT count(*) FROM public.res_company WHERE active")
    (companies,) = cr.fetchone()
    records = 0
    for table in sorted(transaction_tables):
        cr.execute(
            sql.SQL(
                "SELECT count(*) FROM public.{} "
                "WHERE create_date >= date_trunc('month', now() at time zone 'UTC')"
            ).format(sql.Identifier(table))
        )
        records += cr.fetchone()[0]
    return users, companies, records
