"""A restore test: prove that a backup restores into a working Odoo.

The backup is replayed into a scratch database by a role that reaches no
tenant, a separate Odoo process loads its registry, the key tables' row
counts are compared with those recorded in the backup's own snapshot, and
the scratch database and files are dropped whatever happened.
"""

import os

from odoo.addons.ipai_tenant_core.infra import pg
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError
from odoo.addons.ipai_tenant_engine.provisioning import filestore, runtime_access, templates

from . import backups


def run(server, role, scratch, folder, dump_sha256, filestore_sha256, expected_counts, log):
    backups.verify(folder, dump_sha256, filestore_sha256)
    log("checksums match")
    runtime_access.ensure_owned_role(server, role)
    mark = f"restore-check:{scratch}"
    _drop(server, scratch, mark)
    try:
        backups.restore_database(
            server, role, scratch, os.path.join(folder, backups.DUMP_FILE), mark
        )
        backups.extract_filestore(
            os.path.join(folder, backups.FILESTORE_FILE), filestore.path(scratch)
        )
        log(f"restored into {scratch}")
        templates.load_registry(scratch, role, server=server)
        log("the registry loads in a separate Odoo process")
        as_role = runtime_access.as_role(server, role)
        with as_role.connect(scratch) as conn, conn.cursor() as cr:
            counts = backups.row_counts(cr)
        differing = {
            table: (expected, counts.get(table))
            for table, expected in expected_counts.items()
            if counts.get(table) != expected
        }
        if differing:
            detail = ", ".join(
                f"{t}: {got} rows, {want} at backup time" for t, (want, got) in differing.items()
            )
            raise PermanentError(f"Row counts differ: {detail}")
        log("row counts match: " + ", ".join(f"{t} {n}" for t, n in sorted(counts.items())))
    finally:
        _drop(server, scratch, mark)
        log(f"dropped {scratch}")


def _drop(server, name, mark):
    current = pg.database_mark(server, name)
    if current is not None and current != pg.owner_mark(mark):
        raise PermanentError(f"A database named {name} exists and is not a restore test's.")
    pg.drop_database(server, name)
    filestore.remove(name)
