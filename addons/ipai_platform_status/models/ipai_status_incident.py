"""Incidents platform staff post on the status page."""

from odoo import api, fields, models

RESOLVED = "resolved"


class IpaiStatusIncident(models.Model):
    _name = "ipai.status.incident"
    _description = "Status page incident"
    _order = "started_at desc, id desc"

    name = fields.Char("Title", required=True)
    message = fields.Text(
        "Latest update", required=True, help="What the public status page says, as it is."
    )
    state = fields.Selection(
        [
            ("investigating", "Investigating"),
            ("identified", "Identified"),
            ("monitoring", "Monitoring"),
            (RESOLVED, "Resolved"),
        ],
        default="investigating",
        required=True,
    )
    impact = fields.Selection(
        [
            ("minor", "Degraded performance"),
            ("major", "Partial outage"),
            ("critical", "Major outage"),
        ],
        default="minor",
        required=True,
    )
    affects_platform = fields.Boolean("Affects the platform (sign-in, portal, API)")
    cell_ids = fields.Many2many("ipai.tenant.cell", string="Affected cells")
    server_ids = fields.Many2many("ipai.tenant.server", string="Affected database servers")
    started_at = fields.Datetime(default=fields.Datetime.now, required=True)
    # From the stored state, whatever path wrote it.
    resolved_at = fields.Datetime(compute="_compute_resolved_at", store=True, readonly=True)
    published = fields.Boolean(default=True, help="Shown on the public status page.")

    @api.depends("state")
    def _compute_resolved_at(self):
        for incident in self:
            if incident.state != RESOLVED:
                incident.resolved_at = False
            elif not incident.resolved_at:
                incident.resolved_at = fields.Datetime.now()
