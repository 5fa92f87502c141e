"""Changes to the platform's configuration records go into the audit trail:
plans, database servers, team assignments (domains, jobs and tenants record
their own, richer entries)."""

from datetime import date

from odoo import api, models


def _plain(value):
    """A JSON-friendly, comparable form of a field value."""
    if isinstance(value, models.BaseModel):
        names = sorted(value.mapped("display_name"))
        return names[0] if len(value) == 1 and value._name else names or False
    if isinstance(value, date):
        return value.isoformat()
    return value


class IpaiAuditedMixin(models.AbstractModel):
    _name = "ipai.audited.mixin"
    _description = "Changes recorded in the audit trail"
    _audit_label = None  # the entries' action prefix, e.g. "plan"
    # Fields the platform measures rather than someone configures (a
    # server's size, its health): no entry each time they move.
    _audit_ignored = frozenset()

    def _audit_tenant(self):
        return self.env["ipai.tenant"]

    def _audit_values(self, names):
        return {name: _plain(self[name]) for name in names if name in self._fields}

    def _audit_change(self, action, changes):
        changes = {"record": (False, self.display_name), **changes}
        self.env["ipai.audit.log"]._record(
            self._audit_tenant(), f"{self._audit_label}:{action}", changes
        )

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        for record, vals in zip(records, vals_list, strict=True):
            values = record._audit_values(list(vals))
            record._audit_change("create", {name: (False, v) for name, v in values.items()})
        return records

    def write(self, vals):
        names = [name for name in vals if name in self._fields and name not in self._audit_ignored]
        before = {record.id: record._audit_values(names) for record in self}
        result = super().write(vals)
        for record in self:
            after = record._audit_values(names)
            changes = {
                name: (before[record.id][name], after[name])
                for name in names
                if before[record.id][name] != after[name]
            }
            if changes:
                record._audit_change("write", changes)
        return result

    def unlink(self):
        for record in self:
            record._audit_change("unlink", {})
        return super().unlink()
