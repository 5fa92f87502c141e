"""Usage of a tenant database, read with SQL by the platform.

Pulled rather than pushed: the tenant database needs no credentials for the
platform, and a tenant cannot under-report.
"""

from psycopg2 import sql

from . import filestore, pg, runtime_access

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


def collect(server, dbname, role):
    """Counted as the tenant's own role: nothing the tenant planted in its
    database (a policy, a view in place of a table) runs with the platform's
    rights."""
    with runtime_access.as_role(server, role).connect(dbname) as conn, conn.cursor() as cr:
        cr.execute(
            """SELECT count(*) FROM res_users
                WHERE active AND NOT share AND id <> 1"""
        )
        (users,) = cr.fetchone()
        cr.execute("SELECT count(*) FROM res_company WHERE active")
        (companies,) = cr.fetchone()
        cr.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_name = ANY(%s)",
            [list(TRANSACTION_TABLES)],
        )
        tables = sorted(row[0] for row in cr.fetchall())
        records = 0
        for table in tables:
            cr.execute(
                sql.SQL(
                    "SELECT count(*) FROM {} "
                    "WHERE create_date >= date_trunc('month', now() at time zone 'UTC')"
                ).format(sql.Identifier(table))
            )
            records += cr.fetchone()[0]
    return {
        "internal_users": users,
        "companies": companies,
        "records_month": records,
        "db_size_mb": pg.database_size(server, dbname) / 1024 / 1024,
        "filestore_mb": filestore.size(dbname) / 1024 / 1024,
    }
