from odoo import models, sql_db
from odoo.addons.base.models.ir_cron import ODOO_NOTIFY_FUNCTION
from psycopg2 import sql

from ..infra import pg

# Where Odoo's cron workers listen for their wake-up.
CRON_CHANNEL_DATABASE = "postgres"


class IrCron(models.Model):
    _inherit = "ir.cron"

    def _notifydb(self):
        """Wake the cron workers as Odoo does (NOTIFY on the maintenance
        database, where they listen), but through the engine's kept
        connection to it: Odoo never pools a connection to ``postgres``, so
        each wake-up cost a new backend (about 5 ms), and a signup has three
        (its job, its welcome mail, its webhook events) on its path."""
        _dbname, info = sql_db.connection_info_for(CRON_CHANNEL_DATABASE)
        server = pg.Server(
            host=info.get("host") or None,
            port=info.get("port") or None,
            user=info.get("user"),
            password=info.get("password") or None,
        )
        server.execute(
            sql.SQL("SELECT {}('cron_trigger', %s)").format(sql.Identifier(ODOO_NOTIFY_FUNCTION)),
            [self.env.cr.dbname],
        )
