"""Warm pool: databases copied from a template ahead of time, so a signup
only renames and personalises one.

A member is made with everything that does not depend on the customer: the
copy of the template and of its filestore, its own role owning every object
(the ``REASSIGN OWNED`` of the template's ~800 relations), its own identity
(uuid, secret) and an administrator password already hashed (Odoo's pbkdf2,
half a second). At the claim the database, the role and the filestore are
renamed to the tenant's names: the tenant ends up exactly as the template
path makes it, and nothing is shared with any other member.

Every function here is idempotent, like the engine's steps: a build or an
adoption interrupted at any point is finished or removed by the next call.
"""

from psycopg2 import sql

from . import crypto, filestore, pg, runtime_access, tenant_db

MARK_PREFIX = "pool:"


def mark(database):
    return f"{MARK_PREFIX}{database}"


def build(server, template_db, database, role, template_owner, log):
    """Make pool member ``database`` owned by ``role`` from ``template_db``;
    returns the administrator's password (its hash is in the database)."""
    current = pg.database_mark(server, database)
    if current not in (None, "", pg.OWNER_MARK + mark(database)):
        raise ValueError(f"{database} exists and is not a pool member")
    if current is None:
        pg.create_database_from(server, database, template_db)
        log(f"created {database} from {template_db}")
    pg.mark_database(server, database, mark(database))
    filestore.remove(database)
    filestore.copy(template_db, database)
    runtime_access.ensure_owned_role(server, role)
    pg.hand_over(server, database, template_owner, role)
    as_member = runtime_access.as_role(server, role)
    tenant_db.reset_identity(as_member, database, base_url="")
    password = crypto.new_password()
    tenant_db.set_admin(as_member, database, "admin", tenant_db.hash_password(password))
    log(f"{database} ready, owned by {role}")
    return password


def adopt(server, member_db, member_role, tenant_db_name, tenant_role, tenant_mark):
    """Give a claimed member the tenant's names: database, role, filestore.
    Safe to call again after a crash at any point."""
    log = []
    if pg.database_mark(server, member_db) == pg.OWNER_MARK + mark(member_db):
        if pg.database_exists(server, tenant_db_name):
            raise ValueError(f"{tenant_db_name} already exists")
        pg.rename_database(server, member_db, tenant_db_name)
        log.append(f"database {member_db} is now {tenant_db_name}")
    if pg.database_mark(server, tenant_db_name) == pg.OWNER_MARK + mark(member_db):
        pg.mark_database(server, tenant_db_name, tenant_mark)
    if pg.role_exists(server, member_role) and not pg.role_exists(server, tenant_role):
        server.execute(
            sql.SQL("ALTER ROLE {} RENAME TO {}").format(
                sql.Identifier(member_role), sql.Identifier(tenant_role)
            )
        )
        log.append(f"role {member_role} is now {tenant_role}")
    # Its password is derived from its name: set it for the new one.
    runtime_access.ensure_owned_role(server, tenant_role)
    if filestore.move(member_db, tenant_db_name):
        log.append("filestore moved")
    return log


def remove(server, database, role):
    """Drop a member (stale, failed, or claimed by a job that failed)."""
    if pg.database_mark(server, database) == pg.OWNER_MARK + mark(database):
        pg.drop_database(server, database)
    filestore.remove(database)
    if role and pg.role_exists(server, role):
        pg.drop_role(server, role)
