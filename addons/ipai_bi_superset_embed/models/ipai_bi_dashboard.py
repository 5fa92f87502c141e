import hashlib
import re
import time

from odoo import api, fields, models, tools
from odoo.addons.ipai_platform_rules import analytics
from odoo.exceptions import AccessError, UserError, ValidationError

from ..superset_api import client, crypto

PARAM = "ipai_bi_superset_embed."
UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CLIENT_ACTION_TAG = "ipai_bi_superset_embed.dashboard"


# The service login (address, password), opened once per worker and stored
# token: Fernet costs more than the rest of a cold request's Odoo work.
_opened_logins = {}


class BiNotConfiguredError(client.SupersetError):
    http_status = 503


def rls_clause(code):
    """This tenant's row-level-security clause. The code comes from the
    platform's ``ipai_tenant.code`` parameter, never from a request."""
    try:
        return analytics.rls_clause(code)
    except analytics.NotATenantCode as exc:
        raise BiNotConfiguredError(
            "This database has no valid tenant code (ipai_tenant.code); dashboards are disabled."
        ) from exc


class IpaiBiDashboard(models.Model):
    _name = "ipai.bi.dashboard"
    _description = "Embedded Superset dashboard"
    _order = "sequence, name, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    superset_dashboard = fields.Char(
        string="Superset dashboard", help="The dashboard's id or slug in Superset, for reference."
    )
    embedded_uuid = fields.Char(
        string="Embedded UUID",
        required=True,
        copy=False,
        help="From Superset: the dashboard's '...' menu > Embed dashboard.",
    )
    group_ids = fields.Many2many(
        "res.groups",
        string="Allowed groups",
        default=lambda self: self.env.ref("base.group_user"),
        help="Users of these groups see the dashboard and its menu entry.",
    )
    menu_id = fields.Many2one("ir.ui.menu", string="Menu entry", readonly=True, copy=False)
    action_id = fields.Many2one("ir.actions.client", readonly=True, copy=False)

    _sql_constraints = [
        ("embedded_uuid_unique", "unique(embedded_uuid)", "This dashboard is already listed.")
    ]

    @api.constrains("embedded_uuid")
    def _check_embedded_uuid(self):
        for dashboard in self:
            if not UUID_PATTERN.match(dashboard.embedded_uuid or ""):
                raise ValidationError(
                    self.env._("%s is not an embedded dashboard UUID.", dashboard.embedded_uuid)
                )

    # ------------------------------------------------------------ menus

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("embedded_uuid"):
                vals["embedded_uuid"] = vals["embedded_uuid"].strip().lower()
        dashboards = super().create(vals_list)
        dashboards._sync_menus()
        self.env.registry.clear_cache()  # _visible_dashboards, in every worker
        return dashboards

    def write(self, vals):
        if vals.get("embedded_uuid"):
            vals["embedded_uuid"] = vals["embedded_uuid"].strip().lower()
        result = super().write(vals)
        if {"name", "sequence", "active", "group_ids"} & set(vals):
            self._sync_menus()
        if {"embedded_uuid", "group_ids", "active"} & set(vals):
            client.guest_tokens.clear()
            self.env.registry.clear_cache()
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_menus(self):
        menus, actions = self.menu_id, self.action_id
        client.guest_tokens.clear()
        self.env.registry.clear_cache()
        # Menus and actions are technical records only administrators may
        # delete; the dashboard's own unlink access was checked already.
        menus.sudo().unlink()
        actions.sudo().unlink()

    def _sync_menus(self):
        """One client action and one menu entry per dashboard, visible to its
        allowed groups only."""
        root = self.env.ref("ipai_bi_superset_embed.menu_bi_root")
        for dashboard in self:
            action_vals = {
                "name": dashboard.name,
                "tag": CLIENT_ACTION_TAG,
                "params": {"dashboard_id": dashboard.id},
                "path": f"bi-dashboard-{dashboard.id}",
            }
            menu_vals = {
                "name": dashboard.name,
                "parent_id": root.id,
                "sequence": dashboard.sequence,
                "active": dashboard.active,
                "groups_id": [fields.Command.set(dashboard.group_ids.ids)],
            }
            if dashboard.action_id:
                dashboard.action_id.sudo().write(action_vals)
            else:
                dashboard.action_id = self.env["ir.actions.client"].sudo().create(action_vals)
            menu_vals["action"] = f"ir.actions.client,{dashboard.action_id.id}"
            if dashboard.menu_id:
                dashboard.menu_id.sudo().write(menu_vals)
            else:
                dashboard.menu_id = self.env["ir.ui.menu"].sudo().create(menu_vals)

    # ------------------------------------------------------ guest tokens

    @api.model
    @tools.ormcache("self.env.uid", "self.env.su")
    def _visible_dashboards(self):
        """{id: embedded uuid} of the dashboards the current user may see (its
        access rights and record rules), in one query per user, remembered
        until a dashboard, a group membership or a rule changes: each of those
        clears Odoo's caches in every worker."""
        return {row["id"]: row["embedded_uuid"] for row in self.search_read([], ["embedded_uuid"])}

    @api.model
    @tools.ormcache()
    def _settings(self):
        """The BI settings of this database, and their fingerprint. Read once
        per worker: writing a system parameter clears Odoo's caches in every
        worker. Callers must not change the returned dict."""
        params = self.env["ir.config_parameter"].sudo()
        settings = {
            key: (params.get_param(PARAM + key) or "").strip()
            for key in ("superset_url", "public_url", "username", "password", "workspace")
        }
        settings["code"] = params.get_param(analytics.TENANT_CODE_PARAM) or ""
        settings["fingerprint"] = hashlib.sha256(
            "\0".join(settings[key] for key in sorted(settings)).encode()
        ).hexdigest()[:16]
        return settings

    def _guest_token_key(self, settings, embedded_uuid):
        """Per database, user, dashboard and embedded uuid, and per
        configuration: a token minted for the dashboard's former uuid, or with
        another Superset, account, workspace or tenant code, is never served
        again, in any worker, once the dashboard or the settings change (the
        uuid comes from ``_visible_dashboards``, whose cache every worker
        drops on such a change; the token cache is per worker)."""
        return (self.env.cr.dbname, self.env.uid, self.id, embedded_uuid, settings["fingerprint"])

    def _superset_client(self, settings, deadline=client.DEADLINE):
        missing = [
            key
            for key in ("superset_url", "username", "password", "workspace")
            if not settings[key]
        ]
        if missing:
            raise BiNotConfiguredError(
                self.env._("BI dashboards are not configured yet (Settings > BI dashboards).")
            )
        login = _opened_logins.get(settings["password"])
        if login is None:
            try:
                login = crypto.open_login(self.env.cr.dbname, settings["password"])
            except crypto.MissingKeyError as exc:
                raise BiNotConfiguredError(str(exc)) from exc
            _opened_logins.clear()
            _opened_logins[settings["password"]] = login
        # The address sealed with the password, not the superset_url
        # parameter: the service login never goes anywhere else.
        url, password = login
        return client.SupersetClient(url, settings["username"], password, deadline=deadline)

    @api.model
    def _guest_user(self):
        """The current user as Superset's guest user (its logs and audit).

        One query for the two strings: through the ORM, ``env.user.name``
        fetches every prefetchable column of res.users and res.partner in
        three queries, which was the largest share of a cold request's own
        work (~2.5 ms of ~3)."""
        self.env.cr.execute(
            """SELECT u.login, p.name
                 FROM res_users u JOIN res_partner p ON p.id = u.partner_id
                WHERE u.id = %s""",
            [self.env.uid],
        )
        login, name = self.env.cr.fetchone()
        return {"username": login, "first_name": name or login, "last_name": ""}

    def _issue_guest_token(self):
        """A guest token for this dashboard and the current user, from the cache
        while it has more than a safety margin left, else from Superset.

        Raises AccessError when the user may not see the dashboard (checked
        before the cache: a user who lost access gets nothing) or when it is
        outside the tenant's workspace, and ``client.SupersetError`` when
        Superset cannot help.
        """
        self.ensure_one()
        from odoo.addons.ipai_tenant_runtime import gates

        if not gates.feature_allowed(self.env, "bi"):
            # From the platform's view, which no tenant admin can rewrite.
            raise AccessError(
                self.env._(
                    "Your plan %s does not include embedded BI dashboards.",
                    gates.plan_name(self.env),
                )
            )
        uuid = self._visible_dashboards().get(self.id)
        if uuid is None:
            raise AccessError(self.env._("You may not see this dashboard."))
        settings = self._settings()
        key = self._guest_token_key(settings, uuid)
        cached = client.guest_tokens.get(key)
        if cached is not None:
            return cached
        clause = rls_clause(settings["code"])
        superset = self._superset_client(settings)
        try:
            token, expires_at = superset.guest_token(self._guest_user(), uuid, clause)
        except client.DashboardNotInWorkspace as exc:
            raise AccessError(
                self.env._(
                    "The dashboard %(name)s is not in this workspace (%(workspace)s), "
                    "or no longer embedded in Superset.",
                    name=self.sudo().name,
                    workspace=settings["workspace"],
                )
            ) from exc
        payload = {
            "token": token,
            "expires_at": expires_at,
            "embedded_uuid": uuid,
            "superset_url": (settings["public_url"] or settings["superset_url"]).rstrip("/"),
        }
        client.guest_tokens.put(key, payload, expires_at - client.SAFETY_MARGIN)
        return payload

    # ------------------------------------------------------------ sync

    @api.model
    def _load_from_workspace(self):
        """Create a dashboard record for each embedded dashboard of the
        workspace not listed yet; return how many were added."""
        if not self.env.is_system():
            raise AccessError(self.env._("Only administrators can load dashboards."))
        settings = self._settings()
        try:
            superset = self._superset_client(settings, deadline=client.LISTING_DEADLINE)
            catalogue = superset.embedded_dashboards()
        except client.SupersetError as exc:
            raise UserError(str(exc)) from exc
        known = {
            row["embedded_uuid"]
            for row in self.with_context(active_test=False).search_read(
                [("embedded_uuid", "in", list(catalogue))], ["embedded_uuid"]
            )
        }
        prefix = f"{settings['workspace']}_"
        new = [
            {
                "name": entry["title"] or entry["slug"],
                "embedded_uuid": uuid,
                "superset_dashboard": entry["slug"] or str(entry["id"]),
            }
            for uuid, entry in catalogue.items()
            if uuid not in known and entry["slug"].startswith(prefix)
        ]
        self.create(new)
        return len(new)


def token_response_fields(payload, now=None):
    """What the browser gets: the token and when to ask again."""
    now = now if now is not None else time.time()
    return {
        **payload,
        "refresh_in": max(int(payload["expires_at"] - now - client.SAFETY_MARGIN), 0),
    }
