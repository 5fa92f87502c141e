"""A database a tenant has left on its old server after a move: kept
closed to the tenant for a grace period (a way back by hand if the new server
misbehaves), then dropped by the cron below."""

import logging
from datetime import timedelta

import psycopg2
from odoo import api, fields, models

from ..provisioning import moves

_logger = logging.getLogger(__name__)


class IpaiTenantMovedSource(models.Model):
    _name = "ipai.tenant.moved.source"
    _description = "Database left on a server by a move, dropped after its grace"
    _order = "drop_after"

    tenant_id = fields.Many2one("ipai.tenant", required=True, readonly=True, ondelete="cascade")
    server_id = fields.Many2one(
        "ipai.tenant.server", required=True, readonly=True, ondelete="cascade"
    )
    database_name = fields.Char(required=True, readonly=True)
    drop_after = fields.Datetime(required=True, readonly=True, index=True)

    @api.model
    def _keep(self, tenant, server_id, database, grace_hours):
        return self.sudo().create(
            {
                "tenant_id": tenant.id,
                "server_id": server_id,
                "database_name": database,
                "drop_after": fields.Datetime.now() + timedelta(hours=grace_hours),
            }
        )

    @api.model
    def _cron_drop_due(self, limit=20):
        """Drop the sources whose grace has ended (still marked as moved:
        anything else of that name is left alone), then forget them."""
        due = self.sudo().search([("drop_after", "<=", fields.Datetime.now())], limit=limit)
        for source in due:
            tenant = source.tenant_id
            if tenant.server_id == source.server_id:
                # Moved back onto that server since: the database is its own again.
                source.unlink()
                continue
            try:
                dropped = moves.drop_moved_source(
                    source.server_id._pg_server(),
                    source.database_name,
                    tenant.code,
                    tuple(role for role in (tenant.runtime_role, tenant.db_role) if role),
                )
            except psycopg2.Error as exc:
                _logger.warning("moved source %s not dropped yet: %s", source.database_name, exc)
                continue
            tenant._audit(
                "move:source_dropped" if dropped else "move:source_gone",
                {"database": (source.database_name, False)},
            )
            source.unlink()
