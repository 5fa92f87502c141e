#!/usr/bin/env bash
# Create Superset's metadata role and database in the stack's PostgreSQL.
#
# docker-compose.yml mounts this into /docker-entrypoint-initdb.d/, so the
# postgres image runs it once, when it initialises an empty data volume. It is
# idempotent: on an existing volume (or after changing the password) run it by
# hand, it creates what is missing and resets the role's password:
#   docker compose exec db /docker-entrypoint-initdb.d/10-init-superset-db.sh
#
# Environment (docker-compose.yml passes these to the db service):
#   SUPERSET_DB_USER      role Superset logs in as (required)
#   SUPERSET_DB_PASSWORD  its password (required)
#   SUPERSET_DB_NAME      database it owns (default: superset)
#   POSTGRES_USER, POSTGRES_DB  the superuser and database to connect with,
#                               as set for the postgres image
# Values reach SQL through psql's \getenv and format(%I, %L): never spliced
# into the SQL text, never on a command line.
set -euo pipefail

: "${SUPERSET_DB_USER:?SUPERSET_DB_USER is required}"
: "${SUPERSET_DB_PASSWORD:?SUPERSET_DB_PASSWORD is required}"
export SUPERSET_DB_NAME="${SUPERSET_DB_NAME:-superset}"
admin_user="${POSTGRES_USER:-postgres}"
admin_db="${POSTGRES_DB:-$admin_user}"

# The role is altered to NOSUPERUSER below; sharing the superuser would demote it.
if [[ "$SUPERSET_DB_USER" == "$admin_user" ]]; then
    echo "init-superset-db: SUPERSET_DB_USER must differ from POSTGRES_USER ($admin_user)" >&2
    exit 1
fi

psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --quiet \
    --username "$admin_user" --dbname "$admin_db" <<'SQL'
\getenv superset_user SUPERSET_DB_USER
\getenv superset_password SUPERSET_DB_PASSWORD
\getenv superset_db SUPERSET_DB_NAME

SELECT format('CREATE ROLE %I LOGIN', :'superset_user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'superset_user')
\gexec

-- Least privilege, and the current password even if the role already existed.
SELECT format(
    'ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD %L',
    :'superset_user', :'superset_password')
\gexec

SELECT format('CREATE DATABASE %I OWNER %I', :'superset_db', :'superset_user')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'superset_db')
\gexec

-- Only its owner (and superusers) may connect to Superset's metadata: not
-- the Odoo roles, not a tenant's role (whose password a tenant's admin can
-- learn), which PostgreSQL would otherwise let connect through PUBLIC.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'superset_db')
\gexec
SQL

echo "init-superset-db: role \"$SUPERSET_DB_USER\" and database \"$SUPERSET_DB_NAME\" are ready"
