#!/usr/bin/env bash
# Create the role Odoo logs in as, in the stack's PostgreSQL.
#
# Odoo creates the platform and tenant databases and a role per tenant, so it
# needs CREATEDB and CREATEROLE, and pg_signal_backend to close a tenant's
# connections before it drops or clones that tenant's database. It does not
# need, and does not get, superuser: a bug or a compromised Odoo must not be
# able to read Superset's metadata, change server settings or run programs on
# the database host.
#
# docker-compose.yml mounts this into /docker-entrypoint-initdb.d/, so the
# postgres image runs it once, when it initialises an empty data volume. It is
# idempotent: on an existing volume (or after changing the password) run it by
# hand, it creates what is missing and resets the role's password:
#   docker compose exec db /docker-entrypoint-initdb.d/20-init-odoo-role.sh
#
# Environment (docker-compose.yml passes these to the db service):
#   ODOO_DB_USER      role Odoo logs in as (required)
#   ODOO_DB_PASSWORD  its password (required)
#   POSTGRES_USER, POSTGRES_DB  the superuser and database to connect with,
#                               as set for the postgres image
# Values reach SQL through psql's \getenv and format(%I, %L): never spliced
# into the SQL text, never on a command line.
set -euo pipefail

: "${ODOO_DB_USER:?ODOO_DB_USER is required}"
: "${ODOO_DB_PASSWORD:?ODOO_DB_PASSWORD is required}"
admin_user="${POSTGRES_USER:-postgres}"
admin_db="${POSTGRES_DB:-$admin_user}"

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

psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --quiet \
    --username "$admin_user" --dbname "$admin_db" <<'SQL'
\getenv odoo_user ODOO_DB_USER
\getenv odoo_password ODOO_DB_PASSWORD

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
SQL

echo "init-odoo-role: role \"$ODOO_DB_USER\" is ready (CREATEDB, CREATEROLE, no superuser)"
