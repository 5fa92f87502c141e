"""The deployment files are valid and hold no secret."""

import configparser
import os
import secrets
import subprocess
from contextlib import closing

import psycopg2
import pytest
from psycopg2 import sql

from .support import REPO_ROOT, query

SECRET_OPTIONS = ("admin_passwd", "db_password", "ipai_encryption_key")


def compose_config(*env_file):
    return subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", *env_file, "config", "--quiet"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_docker_compose_file_is_valid_with_the_documented_variables():
    result = compose_config("--env-file", ".env.example")
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_to_run_without_its_secrets(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose_config("--env-file", str(empty))
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_odoo_config_templates_hold_no_secret():
    for name in ("odoo.conf", "odoo.prod.conf"):
        parser = configparser.RawConfigParser()
        parser.read(REPO_ROOT / name)
        for option in SECRET_OPTIONS:
            assert not parser["options"].get(option), (name, option)
        assert parser["options"]["list_db"] == "False", name


def test_no_local_state_or_env_file_is_tracked():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert not [path for path in tracked if path.startswith(".local/") or path == ".env"]


INIT_ODOO_ROLE = str(REPO_ROOT / "deploy" / "postgres" / "init-odoo-role.sh")


def superuser_env():
    """Environment for deploy/postgres/*.sh against this machine's PostgreSQL,
    as its superuser (the postgres image runs them as POSTGRES_USER)."""
    env = {
        **os.environ,
        "PGHOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PGPORT": os.environ.get("PGPORT", "5432"),
        "POSTGRES_USER": os.environ.get("PGSUPERUSER", "postgres"),
        "POSTGRES_DB": "postgres",
    }
    try:
        with closing(superuser_connection(env)) as conn, conn.cursor() as cr:
            cr.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            is_superuser = cr.fetchone()[0]
    except psycopg2.OperationalError:
        is_superuser = False
    if not is_superuser:
        pytest.skip(f"no passwordless superuser connection as {env['POSTGRES_USER']}")
    return env


def superuser_connection(env):
    conn = psycopg2.connect(
        dbname="postgres", user=env["POSTGRES_USER"], host=env["PGHOST"], port=env["PGPORT"]
    )
    conn.autocommit = True
    return conn


def role_attributes(role):
    rows = query(
        "postgres",
        """SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolreplication,
                  rolbypassrls, pg_has_role(rolname, 'pg_signal_backend', 'MEMBER')
             FROM pg_roles WHERE rolname = %s""",
        [role],
    )
    return rows[0] if rows else None


def test_compose_odoo_role_can_run_the_platform_and_is_not_superuser():
    env = superuser_env()
    role = f"ipai_test_compose_{os.getpid()}"
    database, tenant_role = f"{role}_db", f"{role}_tenant"
    env.update(ODOO_DB_USER=role, ODOO_DB_PASSWORD=secrets.token_urlsafe(16))
    try:
        for _ in range(2):  # idempotent: a rerun on an existing volume
            result = subprocess.run([INIT_ODOO_ROLE], env=env, capture_output=True, text=True)
            assert result.returncode == 0, result.stderr
        assert role_attributes(role) == (False, True, True, True, False, False, True)
        # What the provisioning engine does with it: a database, a tenant role.
        conn = psycopg2.connect(
            dbname="postgres", user=role, host=env["PGHOST"], port=env["PGPORT"]
        )
        conn.autocommit = True
        with closing(conn), conn.cursor() as cr:
            cr.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            cr.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(tenant_role)))
            cr.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(tenant_role)))
            cr.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
    finally:
        with closing(superuser_connection(env)) as conn, conn.cursor() as cr:
            cr.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database)))
            for name in (tenant_role, role):
                cr.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def test_compose_odoo_role_refuses_the_superuser_name():
    env = superuser_env()
    env.update(ODOO_DB_USER=env["POSTGRES_USER"], ODOO_DB_PASSWORD="x")
    result = subprocess.run([INIT_ODOO_ROLE], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "must differ from POSTGRES_USER" in result.stderr
    assert role_attributes(env["POSTGRES_USER"])[0] is True  # still a superuser
