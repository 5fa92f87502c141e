#!/usr/bin/env bash
# Prepare the stack's PostgreSQL for the two Odoo runtimes.
#
# 1. The control plane's role (ODOO_DB_USER, default ipai). The control plane
#    creates the platform and tenant databases and a role per tenant, so it
#    needs CREATEDB and CREATEROLE, and pg_signal_backend to close a tenant's
#    connections before it drops or clones that tenant's database. It does
#    not need, and does not get, superuser: a bug or a compromised control
#    plane must not be able to read Superset's metadata, change server
#    settings or run programs on the database host.
# 2. The tenant runtime's routing role (RUNTIME_DB_USER, default
#    ipai_runtime): a plain LOGIN role, created here without a password. The
#    control plane grants it what it may read (one view of the platform
#    database) and sets its password, derived from the default cell's
#    secret (itself derived from IPAI_RUNTIME_SECRET), when ipai_tenant_engine
#    is installed or updated; until then nobody can log in as it. Other
#    cells' routing roles (ipai_runtime_<cell>) are made by the control plane.
# 3. Hygiene of the cluster's own databases: PostgreSQL lets every role
#    (PUBLIC) connect to, and create temporary tables in, any database it did
#    not close. Tenant roles and the routing role have no business in
#    "postgres" or the templates, so PUBLIC loses CONNECT and TEMPORARY there;
#    the control plane's role gets CONNECT on "postgres" back, where Odoo
#    connects to create databases. (The tenant runtime opens the platform
#    database where Odoo would open "postgres".) The databases the control
#    plane creates are closed to PUBLIC by the control plane itself.
#
# docker-compose.yml mounts this into /docker-entrypoint-initdb.d/, so the
# postgres image runs it once, when it initialises an empty data volume. It is
# idempotent: on an existing volume (or after changing the password) run it by
# hand, it creates what is missing and resets the role's password:
#   docker compose exec db /docker-entrypoint-initdb.d/20-init-odoo-role.sh
#
# Environment (docker-compose.yml passes these to the db service):
#   ODOO_DB_USER      role the control plane logs in as (required)
#   ODOO_DB_PASSWORD  its password (required)
#   RUNTIME_DB_USER   the tenant runtime's routing role (default ipai_runtime,
#                     the name the control plane expects)
#   POSTGRES_USER, POSTGRES_DB  the superuser and database to connect with,
#                               as set for the postgres image
# Values reach SQL through psql's \getenv and format(%I, %L): never spliced
# into the SQL text, never on a command line.
set -euo pipefail

: "${ODOO_DB_USER:?ODOO_DB_USER is required}"
: "${ODOO_DB_PASSWORD:?ODOO_DB_PASSWORD is required}"
export RUNTIME_DB_USER="${RUNTIME_DB_USER:-ipai_runtime}"
admin_user="${POSTGRES_USER:-postgres}"
export ADMIN_DB="${POSTGRES_DB:-$admin_user}"

# The role is altered to NOSUPERUSER below; sharing the superuser would demote
# it. Odoo itself refuses to connect as "postgres".
if [[ "$ODOO_DB_USER" == "$admin_user" || "$ODOO_DB_USER" == "postgres" ]]; then
    echo "init-odoo-role: ODOO_DB_USER must differ from POSTGRES_USER ($admin_user) and postgres" >&2
    exit 1
fi
if [[ "$ODOO_DB_USER" == "${SUPERSET_DB_USER:-}" ]]; then
    echo "init-odoo-role: ODOO_DB_USER must differ from SUPERSET_DB_USER" >&2
    exit 1
fi
# The routing role is altered to a plain role below: never one of the others.
for other in "$ODOO_DB_USER" "$admin_user" postgres "${SUPERSET_DB_USER:-}"; do
    if [[ "$RUNTIME_DB_USER" == "$other" ]]; then
        echo "init-odoo-role: RUNTIME_DB_USER must differ from ODOO_DB_USER, POSTGRES_USER, SUPERSET_DB_USER and postgres" >&2
        exit 1
    fi
done

psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --quiet \
    --username "$admin_user" --dbname "$ADMIN_DB" <<'SQL'
\getenv odoo_user ODOO_DB_USER
\getenv odoo_password ODOO_DB_PASSWORD
\getenv runtime_user RUNTIME_DB_USER
\getenv admin_db ADMIN_DB

SELECT format('CREATE ROLE %I LOGIN', :'odoo_user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'odoo_user')
\gexec

-- What Odoo needs and no more, and the current password even if the role
-- already existed.
SELECT format(
    'ALTER ROLE %I WITH LOGIN NOSUPERUSER CREATEDB CREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L',
    :'odoo_user', :'odoo_password')
\gexec

SELECT format('GRANT pg_signal_backend TO %I', :'odoo_user')
\gexec

-- The tenant runtime's routing role: LOGIN and nothing else. Its password is
-- left alone (the control plane sets it), and so are the grants the control
-- plane gave it inside the platform database.
SELECT format('CREATE ROLE %I LOGIN', :'runtime_user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'runtime_user')
\gexec

SELECT format(
    'ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
    :'runtime_user')
\gexec

-- From PostgreSQL 16 a CREATEROLE role may only alter roles it holds with
-- ADMIN OPTION: give the control plane that, so it can set the routing
-- role's password, without inheriting or assuming the routing role's rights.
-- (Up to 15, CREATEROLE alone may alter any role that is not a superuser.)
SELECT format('GRANT %I TO %I WITH ADMIN TRUE, INHERIT FALSE, SET FALSE',
              :'runtime_user', :'odoo_user')
 WHERE current_setting('server_version_num')::int >= 160000
\gexec

-- Hygiene: only the roles that need them reach the cluster's own databases.
SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', datname)
  FROM pg_database
 WHERE datname IN ('postgres', 'template0', 'template1', :'admin_db')
\gexec

SELECT format('GRANT CONNECT ON DATABASE postgres TO %I', :'odoo_user')
\gexec
SQL

echo "init-odoo-role: role \"$ODOO_DB_USER\" is ready (CREATEDB, CREATEROLE, no superuser)," \
    "role \"$RUNTIME_DB_USER\" exists (LOGIN only), postgres and the templates are closed to PUBLIC"
