"""/api/v1/tenants/<code>/backups: a tenant's backups, a backup taken now,
and the customer's data taken away: a backup written as Odoo's own backup
zip (an export job) and downloaded, through the same model methods, rights
and audit as the command line."""

import os

from odoo import http
from odoo.exceptions import AccessError
from odoo.http import Stream, request

from .api import ApiError, endpoint, json_response, operation
from .serializers import backup_json
from .shapes import ACCEPTED, BACKUP_LIST
from .tenants import accepted, act_on_tenant, find_tenant, tenant_action

ZIP = "application/zip"


def find_backup(code, backup_id):
    """The backup ``backup_id`` of tenant ``code`` as the caller sees them:
    one outside their reach is as unknown as one that does not exist."""
    tenant = find_tenant(code)
    backup = request.env["ipai.tenant.backup"].search(
        [("id", "=", backup_id), ("tenant_id", "=", tenant.id)], limit=1
    )
    if not backup:
        raise ApiError(404, f"No backup {backup_id} of tenant '{code}'.")
    return backup


def _exported(backup):
    try:
        return bool(backup._export_file())
    except AccessError:  # not the caller's to know
        return False


class BackupsController(http.Controller):
    @endpoint("/tenants/<string:code>/backups", ["GET"])
    @operation(
        summary="List a tenant's backups",
        description="Newest first; whether each is exported as Odoo's backup zip is told "
        "to the tenant's administrators only (false for others).",
        answers={200: (BACKUP_LIST, "The tenant's backups.")},
        problems=(404,),
    )
    def list_backups(self, code):
        tenant = find_tenant(code)
        backups = request.env["ipai.tenant.backup"].search([("tenant_id", "=", tenant.id)])
        items = [backup_json(backup, _exported(backup)) for backup in backups]
        return json_response({"items": items})

    @endpoint("/tenants/<string:code>/backups", ["POST"])
    @tenant_action("Back up a tenant now", "A manual backup, taken by a backup job.")
    def take_backup(self, code):
        return act_on_tenant(code, "action_backup")

    @endpoint("/tenants/<string:code>/backups/<int:backup_id>/export", ["POST"])
    @operation(
        summary="Write a backup as Odoo's own backup zip",
        description="An export job writes it once beside the backup; then GET downloads "
        "it. All of the tenant's data leaves with it (its users' password hashes "
        "included): the tenant's administrators and platform managers only; audited.",
        answers={
            200: (ACCEPTED, "Written already; download it."),
            202: (ACCEPTED, "Queued; follow the job, then download."),
        },
        problems=(403, 404, 409),
    )
    def export_backup(self, code, backup_id):
        backup = find_backup(code, backup_id)
        job = backup._request_export()
        return accepted(backup.tenant_id, job)

    @endpoint("/tenants/<string:code>/backups/<int:backup_id>/export", ["GET"])
    @operation(
        summary="Download a backup as Odoo's own backup zip",
        description="Any Odoo 18 restores it (its database manager, `odoo-bin db load`). "
        "409 until an export wrote it. The tenant's administrators and platform "
        "managers only; audited.",
        answers={},
        download=ZIP,
        problems=(403, 404, 409),
    )
    def download_backup(self, code, backup_id):
        backup = find_backup(code, backup_id)
        path = backup._export_file()
        if not path:
            raise ApiError(409, "This backup is not exported yet: POST to this URL first.")
        backup.tenant_id._audit("backup:download", {"backup": (False, backup.name)})
        stamp = backup.backup_date.strftime("%Y%m%d-%H%M%S")
        stream = Stream(
            type="path",
            path=path,
            mimetype=ZIP,
            download_name=f"{code}-{stamp}.zip",
            size=os.path.getsize(path),
            etag=False,
            conditional=False,
        )
        return stream.get_response(as_attachment=True)
