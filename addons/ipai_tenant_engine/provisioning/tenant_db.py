"""Odoo-level changes inside a tenant database, made with plain SQL.

Callers pass the server as the tenant's own role (runtime_access.as_role):
a trigger or policy the tenant planted runs with the tenant's rights only.

The tenant database is not loaded into the platform process: a registry per
tenant would cost memory and seconds. Each change here is one idempotent
statement on tables every Odoo 18 database has, followed by a cache signal so
a running Odoo serving the tenant sees it at its next request.
"""

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC
from urllib.parse import urlencode, urlsplit

from odoo.addons.base.models.res_users import MIN_ROUNDS
from passlib.context import CryptContext
from psycopg2 import sql
from psycopg2.extras import execute_values

# Odoo 18's own password hashing (res.users._crypt_context), so the tenant's
# Odoo verifies what we store without rehashing.
_PASSWORDS = CryptContext(["pbkdf2_sha512"], pbkdf2_sha512__rounds=MIN_ROUNDS)

TENANT_PARAM_PREFIX = "ipai_tenant."


def set_params(server, dbname, params):
    """Upsert ir.config_parameter values and tell running Odoos to reload."""
    with server.connect(dbname) as conn, conn.cursor() as cr:
        _upsert_params(cr, params)


def _upsert_params(cr, params, signal=True):
    """``signal=False``: the caller signals the caches itself, once, later in
    the same transaction."""
    # One statement for all of them (a signup pushes ten), not one each.
    execute_values(
        cr,
        """INSERT INTO ir_config_parameter
                  (key, value, create_uid, write_uid, create_date, write_date)
           VALUES %s
           ON CONFLICT (key) DO UPDATE
              SET value = EXCLUDED.value, write_date = EXCLUDED.write_date""",
        list(params.items()),
        template="(%s, %s, 1, 1, now() at time zone 'UTC', now() at time zone 'UTC')",
    )
    if signal:
        # ir.config_parameter reads are ormcached in the 'default' cache.
        cr.execute("SELECT nextval('base_cache_signaling_default')")


def get_params(server, dbname, prefix=TENANT_PARAM_PREFIX):
    rows = server.execute(
        "SELECT key, value FROM ir_config_parameter WHERE key LIKE %s", [prefix + "%"], dbname
    )
    return dict(rows or [])


def reset_identity(server, dbname, base_url):
    """A copy must not share its source's uuid (licensing, IAP, caches) or
    secret (session and token signatures). With a ``base_url``, the
    database's mail leaves from its host (set_mail_domain)."""
    with server.connect(dbname) as conn, conn.cursor() as cr:
        cr.execute("SELECT to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS')")
        (created,) = cr.fetchone()
        _upsert_params(
            cr,
            {
                "database.uuid": str(uuid.uuid1()),
                "database.secret": str(uuid.uuid4()),
                "database.create_date": created,
                "web.base.url": base_url,
                # Otherwise the first admin login rewrites it to whatever
                # host the admin came through.
                "web.base.url.freeze": "True",
            },
        )
        _set_mail_domain(cr, base_url, everywhere=True)


def _set_mail_domain(cr, base_url, everywhere=False):
    """The tenant's host as the mail domain of its main company (and of any
    company without one), as Settings > Emails > Alias domain would set it:
    mail from notifications@<host>, replies to catchall@<host>, bounces to
    bounce@<host>; and of the aliases that had no domain. With
    ``everywhere`` (a copy of another database), of every company and
    alias: the source's domain would send its replies back to the source.
    A tenant may change it; the tenant runtime sends from its own hosts
    only, whatever it says (ipai_tenant_runtime/gates.py)."""
    host = urlsplit(base_url or "").hostname
    cr.execute("SELECT to_regclass('mail_alias_domain') IS NOT NULL")
    if not host or not cr.fetchone()[0]:
        return  # no URL yet (a pool member), or no mail module
    cr.execute(
        """WITH inserted AS (
               INSERT INTO mail_alias_domain
                      (name, bounce_alias, catchall_alias, default_from, sequence,
                       create_uid, write_uid, create_date, write_date)
               SELECT %(host)s, 'bounce', 'catchall', 'notifications', 10, 1, 1,
                      now() at time zone 'UTC', now() at time zone 'UTC'
                WHERE NOT EXISTS (SELECT 1 FROM mail_alias_domain WHERE name = %(host)s)
               RETURNING id, name
           ), domain AS (
               SELECT id, name FROM inserted
               UNION ALL
               SELECT id, name FROM mail_alias_domain WHERE name = %(host)s
           ), companies AS (
               UPDATE res_company c
                  SET alias_domain_id = d.id, alias_domain_name = d.name
                 FROM domain d
                WHERE c.alias_domain_id IS NULL OR %(everywhere)s
                   OR c.id = (SELECT res_id FROM ir_model_data
                               WHERE module = 'base' AND name = 'main_company'
                                 AND model = 'res.company')
           )
           UPDATE mail_alias a
              SET alias_domain_id = d.id, alias_full_name = a.alias_name || '@' || d.name
             FROM domain d
            WHERE a.alias_name IS NOT NULL
              AND (a.alias_domain_id IS NULL
                   OR (%(everywhere)s AND a.alias_domain_id <> d.id))""",
        {"host": host, "everywhere": everywhere},
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


def personalize(
    server, dbname, base_url, config, login, name, company=None, reset_valid_hours=None
):
    """A warm-pool database made a tenant's in one connection and one
    transaction: its URL, the tenant-side configuration, its company, its
    admin's login and name (the password was set when the member was made).
    With ``reset_valid_hours``, also the admin's set-password link
    (password_reset_url), returned."""
    params = {"web.base.url": base_url, "web.base.url.freeze": "True"}
    params.update(_config_params(config))
    reset_url = None
    with server.connect(dbname) as conn:
        conn.autocommit = False
        with conn.cursor() as cr:
            # The parameters and the admin share one cache signal (the
            # 'default' cache holds both): _update_admin's.
            _upsert_params(cr, params, signal=False)
            _set_mail_domain(cr, base_url)
            admin_ids = _update_admin(cr, login, None, name)
            if company:
                _update_company(cr, **company)
            if reset_valid_hours:
                reset_url = _password_reset_url(cr, base_url, reset_valid_hours, admin_ids)
        conn.commit()
    return reset_url


def hash_password(password):
    """Odoo 18's hash of ``password`` (pbkdf2-sha512, 600 000 rounds: about
    half a second of CPU, which hashlib spends outside the GIL)."""
    return _PASSWORDS.hash(password)


def set_admin(server, dbname, login, hashed, name=None, company=None):
    """Point the database's admin user (base.user_admin) at the tenant's
    administrator with the password ``hashed`` (hash_password), or the one
    it has when ``hashed`` is None; and its main company at the tenant
    (``company``: the keyword arguments of _update_company), in one
    transaction."""
    with server.connect(dbname) as conn:
        conn.autocommit = False
        with conn.cursor() as cr:
            _update_admin(cr, login, hashed, name)
            if company:
                _update_company(cr, **company)
        conn.commit()


def _update_admin(cr, login, hashed, name):
    """Returns the admin's user and partner ids (_admin_ids)."""
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
        "UPDATE res_partner SET email = %s, name = coalesce(%s, name), "
        "complete_name = coalesce(%s, complete_name) WHERE id = %s",
        [login if "@" in login else None, name, name, partner_id],
    )
    cr.execute("SELECT nextval('base_cache_signaling_default')")
    return admin_id, partner_id


def _update_company(cr, name, email=None, country_code=None):
    """The main company (base.main_company) carries the tenant's name,
    e-mail and country instead of "My Company". The name and e-mail are
    stored on both the company and its partner (related stored fields), the
    country on the partner only (the company computes it from there)."""
    cr.execute(
        """SELECT res_id FROM ir_model_data
            WHERE module = 'base' AND name = 'main_company' AND model = 'res.company'"""
    )
    (company_id,) = cr.fetchone()
    cr.execute(
        "UPDATE res_company SET name = %s, email = %s WHERE id = %s RETURNING partner_id",
        [name, email or None, company_id],
    )
    (partner_id,) = cr.fetchone()
    cr.execute(
        """UPDATE res_partner
              SET name = %s, complete_name = %s, email = %s,
                  country_id = coalesce((SELECT id FROM res_country WHERE code = %s), country_id)
            WHERE id = %s""",
        [name, name, email or None, (country_code or "").upper() or None, partner_id],
    )


def password_reset_url(server, dbname, base_url, valid_hours):
    """A link to Odoo's own reset-password page of the tenant database for
    its administrator (auth_signup, installed in every tenant database):
    the admin's partner is marked for a reset (signup_type) and the token is
    signed with the tenant database's own secret, exactly as
    res.partner._generate_signup_token does, so the tenant's Odoo checks it
    and then forgets it (the token embeds the last login, so it dies with
    the first login or the next reset)."""
    with server.connect(dbname) as conn:
        conn.autocommit = False
        with conn.cursor() as cr:
            url = _password_reset_url(cr, base_url, valid_hours)
        conn.commit()
    return url


def _password_reset_url(cr, base_url, valid_hours, admin_ids=None):
    """``admin_ids``: _admin_ids' answer when the caller has it already (in
    the same transaction)."""
    admin_id, partner_id = admin_ids or _admin_ids(cr)
    cr.execute("UPDATE res_partner SET signup_type = 'reset' WHERE id = %s", [partner_id])
    cr.execute(
        "SELECT id FROM res_users WHERE partner_id = %s AND active ORDER BY id", [partner_id]
    )
    user_ids = [row[0] for row in cr.fetchall()]
    # res.users.login_date: the newest res.users.log of the user.
    cr.execute(
        "SELECT create_date FROM res_users_log WHERE create_uid = %s ORDER BY id DESC LIMIT 1",
        [admin_id],
    )
    row = cr.fetchone()
    login_date = int(row[0].replace(tzinfo=UTC).timestamp()) if row else None
    cr.execute("SELECT value FROM ir_config_parameter WHERE key = 'database.secret'")
    (secret,) = cr.fetchone()
    expiration = int(time.time()) + valid_hours * 3600
    token = _hash_sign(secret, "signup", [partner_id, user_ids, login_date, "reset"], expiration)
    return f"{base_url}/web/reset_password?{urlencode({'token': token})}"


def _hash_sign(secret, scope, values, expiration):
    """odoo.tools.hash_sign with the tenant database's secret (the helper
    reads it from an environment of the database it signs for, which the
    platform never loads)."""
    message = json.dumps(values)
    signed = repr((scope, f"1:{message}:{expiration}"))
    digest = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    token = b"\x01" + expiration.to_bytes(8, "little") + digest + message.encode()
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def _admin_ids(cr):
    cr.execute(
        """SELECT u.id, u.partner_id FROM ir_model_data d JOIN res_users u ON u.id = d.res_id
            WHERE d.module = 'base' AND d.name = 'user_admin' AND d.model = 'res.users'"""
    )
    return cr.fetchone()


def neutralize(server, dbname):
    """Odoo's own neutralization (outgoing mail, crons, payment providers...)
    for a copy of real data, in one transaction."""
    from odoo.modules import neutralize as odoo_neutralize

    with server.connect(dbname) as conn:
        conn.autocommit = False
        with conn.cursor() as cr:
            odoo_neutralize.neutralize_database(cr)
        conn.commit()


# What a database brought in from elsewhere must not keep of its source's
# credentials: {table: (what it holds, the statement clearing it)}. A table
# its modules do not have is passed over.
_SOURCE_CREDENTIALS = {
    "res_users": ("passwords", "UPDATE res_users SET password = NULL"),
    "res_users_apikeys": ("API keys", "DELETE FROM res_users_apikeys"),
    "auth_totp_device": ("trusted two-factor devices", "DELETE FROM auth_totp_device"),
    "res_users_log": ("login log", "DELETE FROM res_users_log"),
    "ir_mail_server": (
        "outgoing mail servers",
        "UPDATE ir_mail_server SET active = false, smtp_user = NULL, smtp_pass = NULL",
    ),
    "fetchmail_server": (
        "incoming mail servers",
        "UPDATE fetchmail_server SET active = false, password = NULL",
    ),
}


def forget_credentials(server, dbname):
    """Every credential of a database's source, gone in one transaction:
    users' passwords, API keys, two-factor secrets and devices, the mail
    servers it used (off, their logins cleared). Returns what was cleared."""
    cleared = []
    with server.connect(dbname) as conn:
        conn.autocommit = False
        with conn.cursor() as cr:
            for table, (what, statement) in _SOURCE_CREDENTIALS.items():
                cr.execute("SELECT to_regclass(%s) IS NOT NULL", [f"public.{table}"])
                if cr.fetchone()[0]:
                    cr.execute(statement)
                    cleared.append(what)
            cr.execute(
                """SELECT 1 FROM information_schema.columns
                    WHERE table_schema = 'public' AND table_name = 'res_users'
                      AND column_name = 'totp_secret'"""
            )
            if cr.fetchone():
                cr.execute("UPDATE res_users SET totp_secret = NULL")
                cleared.append("two-factor secrets")
        conn.commit()
    return cleared


SIGNUP_SCOPE_PARAM = "auth_signup.invitation_scope"


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
        # auth_signup installs itself open to anyone ('b2c'): every tenant
        # would let anonymous visitors make portal accounts. Tenants start
        # on invitation only; their admin may open it in Settings.
        _upsert_params(cr, {SIGNUP_SCOPE_PARAM: "b2b"})


# The fs.storage of a tenant's attachments (fs_attachment): its key is not
# in ``options`` but sealed in a parameter only the runtime opens
# (ipai_tenant_runtime/attachment_storage.py).
_ATTACHMENT_STORAGE_VALUES = {
    "name": "Attachments",
    "protocol": "s3",
    "options": "{}",
    "eval_options_from_env": False,
    "check_connection_method": "marker_file",
    "is_cacheable": True,
    "use_as_default_for_attachments": True,
    # fs_attachment's own default: small images, scripts and style sheets
    # (the web client's assets) stay in the database.
    "force_db_for_default_attachment_rules": (
        '{"image/": 51200, "application/javascript": 0, "text/css": 0}'
    ),
    "optimizes_directory_path": True,
    "autovacuum_gc": True,
    "use_filename_obfuscation": False,
    "is_directory_path_in_url": False,
    "base_url": "",
}


def configure_attachment_storage(server, dbname, code, bucket, sealed_options, sealed_parameter):
    """Make ``bucket`` the default storage of ``dbname``'s attachments, its
    key sealed in ``sealed_parameter``; a rerun rewrites the same row."""
    values = {**_ATTACHMENT_STORAGE_VALUES, "code": code, "directory_path": bucket}
    columns = list(values)
    with server.connect(dbname) as conn, conn.cursor() as cr:
        cr.execute(
            sql.SQL(
                """INSERT INTO fs_storage
                          ({columns}, create_uid, write_uid, create_date, write_date)
                   VALUES ({values}, 1, 1,
                           now() at time zone 'UTC', now() at time zone 'UTC')
                   ON CONFLICT (code) DO UPDATE SET ({columns}) = ROW({excluded})"""
            ).format(
                columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
                values=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
                excluded=sql.SQL(", ").join(
                    sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in columns
                ),
            ),
            list(values.values()),
        )
        _upsert_params(cr, {sealed_parameter: sealed_options})
        # fs_attachment caches the default storage per registry: reload it.
        cr.execute("SELECT nextval('base_registry_signaling')")
