from odoo import fields, models
from odoo.exceptions import UserError

from ..models import ipai_tenant_lifecycle as lifecycle


class IpaiTenantRestore(models.TransientModel):
    _name = "ipai.tenant.restore"
    _description = "Restore a tenant backup"
    _inherit = ["ipai.text.input.mixin"]

    backup_id = fields.Many2one("ipai.tenant.backup", required=True, readonly=True)
    mode = fields.Selection(
        [
            ("in_place", "In place (replaces the tenant's current data)"),
            ("new", "Into a new tenant"),
        ],
        required=True,
        default="in_place",
    )
    code = fields.Char(string="New code")
    name = fields.Char(string="New name")

    def action_restore(self):
        self.ensure_one()
        backup = self.backup_id
        # Whatever id was sent: the caller must be able to read the backup.
        backup.check_access("read")
        backup._check_files()
        source = backup.tenant_id
        if self.mode == "in_place":
            source._ensure_action_allowed("restore", self.env._("Restoring"))
            self.env["ipai.tenant.job"]._enqueue(
                source, "restore", {"backup_id": backup.id, "mode": "in_place"}
            )
            target = source
        else:
            target = self._restore_into_new(backup)
        return {
            "type": "ir.actions.act_window",
            "res_model": "ipai.tenant",
            "res_id": target.id,
            "view_mode": "form",
        }

    def _restore_into_new(self, backup):
        if not self.code:
            raise UserError(self.env._("Give the new tenant a code."))
        problem = self.env["ipai.tenant"]._new_code_problem(self.code)
        if problem:
            raise UserError(problem)
        source = backup.tenant_id
        tenant = self.env["ipai.tenant"].create(
            {
                "code": self.code,
                "name": self.name or self.code,
                "tenant_type": "client"
                if source.tenant_type == "platform_owner"
                else source.tenant_type,
                "parent_id": source.parent_id.id,
                "plan_id": source.plan_id.id,
                "admin_email": source.admin_email,
            }
        )
        self.env["ipai.tenant.job"]._enqueue(
            tenant, "restore", {"backup_id": backup.id, "mode": "new"}
        )
        tenant._set_state_from_engine(lifecycle.PROVISIONING)
        return tenant
