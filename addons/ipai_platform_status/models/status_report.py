"""What the public status page says, from stored state: one function, for
the page and its JSON twin. Components are named by their display names
only (no host, address or tenant)."""

from datetime import timedelta

from odoo import fields
from odoo.addons.ipai_tenant_core.infra import server_check

from .ipai_status_incident import RESOLVED
from .ipai_tenant_cell import DEGRADED, DOWN, OPERATIONAL, UNKNOWN

# Resolved incidents stay on the page this long.
HISTORY_DAYS = 14
SEVERITY = {OPERATIONAL: 0, UNKNOWN: 0, DEGRADED: 1, DOWN: 2}
SERVER_STATUS = {
    server_check.HEALTHY: OPERATIONAL,
    server_check.WARNING: OPERATIONAL,
    server_check.UNFIT: DEGRADED,
    server_check.UNREACHABLE: DOWN,
}
# What an open incident makes of a component it names.
IMPACT_STATUS = {"minor": DEGRADED, "major": DEGRADED, "critical": DOWN}
HEADLINES = {
    OPERATIONAL: "All systems operational",
    DEGRADED: "Some systems are degraded",
    DOWN: "Outage in progress",
}


def _worst(*statuses):
    return max(statuses, key=lambda status: SEVERITY[status])


def _utc(moment):
    return fields.Datetime.to_string(moment)[:16] + " UTC" if moment else ""


def status_report(env):
    """The page's content; ``env`` may be the public user's (read as root)."""
    env = env(su=True)
    Incident = env["ipai.status.incident"]
    open_incidents = Incident.search([("published", "=", True), ("state", "!=", RESOLVED)])
    since = fields.Datetime.now() - timedelta(days=HISTORY_DAYS)
    past = Incident.search(
        [("published", "=", True), ("state", "=", RESOLVED), ("resolved_at", ">=", since)]
    )

    def from_incidents(measured, affected):
        status = measured
        for incident in open_incidents.filtered(affected):
            status = _worst(status, IMPACT_STATUS[incident.impact])
        return status

    components = [
        {
            "kind": "platform",
            "kind_label": "sign-in, portal, API",
            "name": "Platform",
            # This page answering is the platform answering.
            "status": from_incidents(OPERATIONAL, lambda i: i.affects_platform),
        }
    ]
    for cell in env["ipai.tenant.cell"].search([]):
        components.append(
            {
                "kind": "cell",
                "kind_label": "tenant runtime cell",
                "name": cell.name,
                "status": from_incidents(cell.status, lambda i, c=cell: c in i.cell_ids),
            }
        )
    for server in env["ipai.tenant.server"].search([]):
        measured = SERVER_STATUS.get(server.health, UNKNOWN)
        components.append(
            {
                "kind": "database_server",
                "kind_label": "database server",
                "name": server.name,
                "status": from_incidents(measured, lambda i, s=server: s in i.server_ids),
            }
        )
    overall = _worst(OPERATIONAL, *(component["status"] for component in components))

    def incident_values(incident):
        return {
            "title": incident.name,
            "state": incident.state,
            "state_label": dict(incident._fields["state"].selection)[incident.state],
            "impact": incident.impact,
            "message": incident.message,
            "started_at": _utc(incident.started_at),
            "resolved_at": _utc(incident.resolved_at),
        }

    return {
        "status": overall,
        "headline": HEADLINES[overall],
        "components": components,
        "incidents": [incident_values(incident) for incident in open_incidents],
        "past_incidents": [incident_values(incident) for incident in past],
    }
