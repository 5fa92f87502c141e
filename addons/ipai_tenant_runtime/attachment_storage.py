"""Tenant runtime: a tenant's attachments in its own bucket, with a key the
tenant's database cannot use anywhere else.

The provisioning step that configures a tenant database writes one
``fs.storage`` (code ``TENANT_STORAGE_CODE``, protocol s3, default for
attachments) whose options hold no key, and a parameter holding the
bucket's endpoint and key *sealed* with that database's own key, derived
from the runtime's secret (``credentials.seal_for_database``). The runtime
opens it when the storage connects. The tenant's admin reads the token and
can plant it in another database: it opens nothing there. The key itself
opens that tenant's bucket only (the S3 server's policy: object_store.py).

Why sealed and not derived like role passwords: S3 servers that enforce
IAM policies (moto's, AWS) issue a user's secret themselves; only MinIO
lets an admin choose it.

And ``fs_storage``'s ``eval_options_from_env`` is never honoured in the
tenant runtime: a tenant admin would write ``{"key": "$IPAI_RUNTIME_SECRET"}``
into an options field of its own storage and read the runtime's secret
back through the filesystem object.
"""

import logging

from . import credentials, object_store, patching, runtime_config

_logger = logging.getLogger(__name__)

TENANT_STORAGE_CODE = "ipai_attachments"
SEALED_OPTIONS_PARAMETER = "ipai_tenant_runtime.object_store"


class AttachmentStorageUnavailable(Exception):
    pass


def sealed_options(dbname, endpoint_url, access_key, secret_key):
    """What the engine stores in ``SEALED_OPTIONS_PARAMETER`` of ``dbname``."""
    return credentials.seal_for_database(
        dbname, endpoint_url=endpoint_url, key=access_key, secret=secret_key
    )


def opened_options(dbname, token):
    """fs_storage options of ``dbname``'s bucket from ``token``; None when
    the token was not sealed for ``dbname``."""
    values = credentials.open_for_database(dbname, token)
    if not values or not {"endpoint_url", "key", "secret"} <= values.keys():
        return None
    return object_store.storage_options(values["endpoint_url"], values["key"], values["secret"])


def _fs_options(original):
    def _get_fs_options(self):
        if runtime_config.mode() != runtime_config.TENANT:
            return original(self)
        if self.code != TENANT_STORAGE_CODE:
            # The tenant's own storages, minus the environment lookup.
            return self.json_options
        dbname = self.env.cr.dbname
        token = self.env["ir.config_parameter"].sudo().get_param(SEALED_OPTIONS_PARAMETER)
        options = opened_options(dbname, token)
        if options is None:
            _logger.warning("attachment storage of %s: no key sealed for it", dbname)
            raise AttachmentStorageUnavailable(f"no object store key sealed for {dbname}")
        return options

    return _get_fs_options


def install():
    try:
        from odoo.addons.fs_storage.models.fs_storage import FSStorage
    except ImportError:
        # Without fs_storage attachments stay in the node's filestore
        # (plain Odoo); nothing to guard.
        return
    patching.patch(FSStorage, "_get_fs_options", _fs_options)
