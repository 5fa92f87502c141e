"""A tenant's administrator hides usage from the platform, or stalls its
workers, with SQL inside its own database: a user inserted behind the
ORM's limits, a row-security policy keyed on the engine's connection name, a
lock held on a counted table. The usage run counts the hidden user, reports
the policy as tampering without lowering the counts, and does not wait for
the lock."""

import os
from contextlib import closing

import psycopg2
import pytest

from ..conftest import TENANT_DB_PREFIX
from ..support import provision, query, run_cli, tenant_login
from .test_tenant_isolation import run_sql

DATABASE = TENANT_DB_PREFIX + "ut-evil"


@pytest.fixture(scope="module")
def hider(cli, tenant_server, credentials_dir):
    provision(cli, "ut-evil")
    return tenant_login(tenant_server, "ut-evil", credentials_dir)


def usage(platform_db):
    return query(
        platform_db,
        """SELECT m.internal_users, m.tampering, t.usage_warning
             FROM ipai_tenant_metric m JOIN ipai_tenant t ON t.id = m.tenant_id
            WHERE t.code = 'ut-evil' ORDER BY m.date DESC LIMIT 1""",
    )[0]


def test_a_user_inserted_by_sql_is_counted(hider, cli, platform_db):
    assert cli("collect-usage").returncode == 0
    users_before = usage(platform_db)[0]
    # ``share`` left true, so that Odoo's own limit check ignores it; in the
    # Internal User group, so that it works as one.
    run_sql(
        hider,
        """WITH partner AS (INSERT INTO res_partner (name, active, create_date)
                            VALUES ('Hidden', true, now()) RETURNING id),
                u AS (INSERT INTO res_users (login, partner_id, company_id, active, share,
                                             notification_type)
                      SELECT 'hidden@ut-evil.example', partner.id, 1, true, true, 'email'
                        FROM partner RETURNING id)
           INSERT INTO res_groups_users_rel (gid, uid)
           SELECT d.res_id, u.id FROM u, ir_model_data d
            WHERE d.module = 'base' AND d.name = 'group_user'""",
    )
    assert cli("collect-usage").returncode == 0
    assert usage(platform_db)[0] == users_before + 1


def test_a_policy_hiding_rows_from_the_engine_is_tampering(hider, cli, platform_db):
    counted = usage(platform_db)[0]
    run_sql(
        hider,
        """CREATE POLICY hide_from_platform ON res_users
               USING (current_setting('application_name') <> 'ipai-provisioning');
           ALTER TABLE res_users ENABLE ROW LEVEL SECURITY;
           ALTER TABLE res_users FORCE ROW LEVEL SECURITY""",
    )
    try:
        assert cli("collect-usage").returncode == 0
        users, tampering, warning = usage(platform_db)
    finally:
        run_sql(
            hider,
            """ALTER TABLE res_users NO FORCE ROW LEVEL SECURITY;
               ALTER TABLE res_users DISABLE ROW LEVEL SECURITY;
               DROP POLICY hide_from_platform ON res_users""",
        )
    assert users == counted, "hiding rows does not lower the count"
    assert "row-level security" in tampering
    assert "could not be counted truly" in warning
    audit = query(
        platform_db,
        """SELECT count(*) FROM ipai_audit_log a JOIN ipai_tenant t ON t.id = a.tenant_id
            WHERE t.code = 'ut-evil' AND a.action = 'usage:tampering'""",
    )
    assert audit == [(1,)]


def test_a_lock_on_a_counted_table_does_not_stall_the_usage_run(hider, platform_db):
    (role,) = query(platform_db, "SELECT runtime_role FROM ipai_tenant WHERE code = 'ut-evil'")[0]
    locker = psycopg2.connect(
        dbname=DATABASE,
        user=role,
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=os.environ.get("PGPORT", "5432"),
    )
    with closing(locker), locker.cursor() as cr:
        cr.execute("LOCK TABLE res_users IN ACCESS EXCLUSIVE MODE")
        # The lock is held until the run is over: it ends on its own.
        result = run_cli(platform_db, "collect-usage", timeout=300)
        still_locked = query(
            "postgres",
            """SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                WHERE d.datname = %s AND l.locktype = 'relation'
                  AND l.mode = 'AccessExclusiveLock' AND l.granted""",
            [DATABASE],
        )
        locker.rollback()
    assert result.returncode == 0, result.stdout + result.stderr
    assert still_locked == [(1,)]
