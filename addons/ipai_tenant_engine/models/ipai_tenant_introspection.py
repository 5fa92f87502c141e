import base64
import io
import zipfile

from odoo import fields, models
from odoo.addons.ipai_platform_rules import lifecycle
from odoo.exceptions import UserError

from ..provisioning import introspect, runtime_access

SERVED_STATES = (lifecycle.ACTIVE, lifecycle.SUSPENDED)


class IpaiTenant(models.Model):
    _inherit = "ipai.tenant"

    def _introspect_schema(self):
        """The tenant database's schema, read as the tenant's own role. A
        read of catalogs only: no job, nothing changes, but the same reach
        as any action (the caller must be able to read the tenant)."""
        self.ensure_one()
        self.check_access("read")
        if self.state not in SERVED_STATES:
            raise UserError(
                self.env._(
                    "%(tenant)s has no database to document (it is %(state)s).",
                    tenant=self.code,
                    state=self.state,
                )
            )
        tenant = self.sudo()
        server = runtime_access.as_role(tenant._pg_server(), tenant.runtime_role)
        return introspect.read_schema(server, tenant.database_name)

    def _schema_documents(self, formats=introspect.FORMATS):
        """{file name: text} of the schema in each of ``formats``."""
        schema = self._introspect_schema()
        return {
            f"{self.code}{introspect.FILE_SUFFIXES[fmt]}": introspect.render(schema, fmt)
            for fmt in formats
        }

    def action_download_schema(self):
        """DBML, Markdown and ERD JSON of the tenant's schema in one zip,
        attached to the tenant and downloaded."""
        self.ensure_one()
        documents = self._schema_documents()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in documents.items():
                archive.writestr(name, text)
        stamp = fields.Datetime.now().strftime("%Y%m%d-%H%M%S")
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": f"{self.code}-schema-{stamp}.zip",
                    "res_model": self._name,
                    "res_id": self.id,
                    "mimetype": "application/zip",
                    "datas": base64.b64encode(buffer.getvalue()),
                }
            )
        )
        self._audit("schema:documented", {"attachment": (False, attachment.name)})
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "self",
        }
