"""Odoo-level changes inside a tenant database, made with plain SQL.

Callers pass the server as the tenant's own role (runtime_access.as_role):
a trigger or policy the tenant planted runs with the tenant's rights only.

The tenant database is not loaded into the platform process: a registry per
tenant would cost memory and seconds. Each change here is one idempotent
statement on tables every Odoo 18 database has, followed by a cache signal so
a running Odoo serving the tenant sees it at its next request.
"""

import json
import uuid

from odoo.addons.base.models.res_users import MIN_ROUNDS
from passlib.context import CryptContext

# Odoo 18's own password hashing (res.users._crypt_context), so the tenant's
# Odoo verifies what we store without rehashing.
_PASSWORDS = CryptContext(["pbkdf2_sha512"], pbkdf2_sha512__rounds=MIN_ROUNDS)

TENANT_PARAM_PREFIX = "ipai_tenant."


def set_params(server, dbname, params):
    """Upsert ir.config_parameter values and tell running Odoos to reload."""
    with server.connect(dbname) as conn, conn.cursor() as cr:
        _upsert_params(cr, params)


def _upsert_params(cr, params):
    for key, value in params.items():
        cr.execute(
            """INSERT INTO ir_config_parameter
                      (key, value, create_uid, write_uid, create_date, write_date)
               VALUES (%s, %s, 1, 1, now() at time zone 'UTC', now() at time zone 'UTC')
               ON CONFLICT (key) DO UPDATE
                  SET value = EXCLUDED.value, write_date = EXCLUDED.write_date""",
            [key, value],
        )
    # ir.config_parameter reads are ormcached in the 'default' cache.
    cr.execute("SELECT nextval('base_cache_signaling_default')")


def get_params(server, dbname, prefix=TENANT_PARAM_PREFIX):
    rows = server.execute(
        "SELECT key, value FROM ir_config_parameter WHERE key LIKE %s", [prefix + "%"], dbname
    )
    return dict(rows or [])


def reset_identity(server, dbname, base_url):
    """A copy must not share its source's uuid (licensing, IAP, caches) or
    secret (session and token signatures)."""
    set_params(
        server,
        dbname,
        {
            "database.uuid": str(uuid.uuid1()),
            "database.secret": str(uuid.uuid4()),
            "database.create_date": _now(server, dbname),
            "web.base.url": base_url,
            # Otherwise the first admin login rewrites it to whatever host
            # the admin came through.
            "web.base.url.freeze": "True",
        },
    )


def push_tenant_config(server, dbname, config):
    set_params(server, dbname, _config_params(config))


def _config_params(config):
    return {
        TENANT_PARAM_PREFIX + key: json.dumps(value)
        if isinstance(value, (dict, list))
        else str(value)
        for key, value in config.items()
    }


def personalize(server, dbname, base_url, config, login, name):
    """A warm-pool database made a tenant's in one connection and one
    transaction: its URL, the tenant-side configuration, its admin's login
    and name (the password was set when the member was made)."""
    params = {"web.base.url": base_url, "web.base.url.freeze": "True"}
    params.update(_config_params(config))
    with server.connect(dbname) as conn:
        conn.autocommit = False
        with conn.cursor() as cr:
            _upsert_params(cr, params)
            _update_admin(cr, login, None, name)
        conn.commit()


def hash_password(password):
    """Odoo 18's hash of ``password`` (pbkdf2-sha512, 600 000 rounds: about
    half a second of CPU, which hashlib spends outside the GIL)."""
    return _PASSWORDS.hash(password)


def set_admin(server, dbname, login, hashed, name=None):
    """Point the database's admin user (base.user_admin) at the tenant's
    administrator with the password ``hashed`` (hash_password), or the one
    it has when ``hashed`` is None."""
    with server.connect(dbname) as conn, conn.cursor() as cr:
        _update_admin(cr, login, hashed, name)


def _update_admin(cr, login, hashed, name):
    cr.execute(
        """SELECT res_id FROM ir_model_data
            WHERE module = 'base' AND name = 'user_admin' AND model = 'res.users'"""
    )
    (admin_id,) = cr.fetchone()
    # hashed=None keeps the password set earlier (a warm-pool member's).
    cr.execute(
        "UPDATE res_users SET login = %s, password = coalesce(%s, password), active = true "
        "WHERE id = %s RETURNING partner_id",
        [login, hashed, admin_id],
    )
    (partner_id,) = cr.fetchone()
    cr.execute(
        "UPDATE res_partner SET email = %s, name = coalesce(%s, name) WHERE id = %s",
        [login if "@" in login else None, name, partner_id],
    )
    cr.execute("SELECT nextval('base_cache_signaling_default')")


def neutralize(server, dbname):
    """Odoo's own neutralization (outgoing mail, crons, payment providers...)
    for a copy of real data, in one transaction."""
    from odoo.modules import neutralize as odoo_neutralize

    with server.connect(dbname) as conn:
        conn.autocommit = False
        with conn.cursor() as cr:
            odoo_neutralize.neutralize_database(cr)
        conn.commit()


def neutralize_template(server, dbname):
    """Strip a freshly installed template of what must not be copied into
    tenants: its identity and its admin's default password ('admin'). Odoo's
    own neutralization is not used here: it would switch off every cron and
    mail server of every tenant made from the template."""
    with server.connect(dbname) as conn, conn.cursor() as cr:
        cr.execute(
            """DELETE FROM ir_config_parameter
                WHERE key IN ('database.uuid', 'database.secret', 'database.create_date',
                              'database.enterprise_code', 'web.base.url')"""
        )
        cr.execute("UPDATE res_users SET password = NULL")
        cr.execute("DELETE FROM res_users_log")


def _now(server, dbname):
    return server.execute(
        "SELECT to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS')", dbname=dbname
    )[0][0]
