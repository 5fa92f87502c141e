"""A tenant's backup in Odoo's own format: the zip Odoo's database manager
makes and restores (``/web/database/restore``, ``odoo-bin db load``), so a
customer takes its data to any Odoo 18.

The zip holds ``dump.sql`` (the backup's dump as plain SQL, without owners
or privileges: the restoring Odoo's role owns what it replays; without the
schema and extension entries, made by Odoo when it creates the empty
database), ``filestore/`` (the backup's files) and ``manifest.json`` (what
Odoo's own dump writes: version, PostgreSQL version, installed modules).
It is written under a ``.partial`` name and renamed when complete, by an
export job (``export_step``), once per backup, beside the backup's files.
"""

import json
import os
import posixpath
import shutil
import subprocess
import tarfile
import tempfile
import zipfile

from odoo import release
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError

from . import backups
from .spec import source_backup

EXPORT_FILE = "odoo-backup.zip"
CHUNK = 1 << 20


def manifest(dbname, pg_version_num, modules):
    """Odoo's dump manifest (odoo.service.db.dump_db_manifest) of ``dbname``."""
    return {
        "odoo_dump": "1",
        "db_name": dbname,
        "version": release.version,
        "version_info": list(release.version_info),
        "major_version": release.major_version,
        "pg_version": f"{pg_version_num // 10000}.{pg_version_num % 10000}",
        "modules": dict(sorted(modules.items())),
    }


def installed_modules(tenant_server, dbname):
    """The installed modules of ``dbname`` and their versions, with the
    server's version number, read as the tenant's role."""
    with tenant_server.connect(dbname) as conn, conn.cursor() as cr:
        cr.execute("SELECT name, latest_version FROM ir_module_module WHERE state = 'installed'")
        modules = dict(cr.fetchall())
        cr.execute("SHOW server_version_num")
        return modules, int(cr.fetchone()[0])


def write_odoo_zip(folder, target, manifest_values):
    """``target``: the backup in ``folder`` as Odoo's backup zip."""
    with (
        backups.written_whole(target) as partial,
        zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive,
    ):
        archive.writestr("manifest.json", json.dumps(manifest_values, indent=4))
        _add_plain_sql(archive, os.path.join(folder, backups.DUMP_FILE))
        _add_filestore(archive, os.path.join(folder, backups.FILESTORE_FILE))
    return target


def _add_plain_sql(archive, dump_path):
    with (
        tempfile.NamedTemporaryFile("w", suffix=".list") as listing,
        tempfile.TemporaryFile() as errors,
    ):
        listing.write(backups.restore_list(dump_path))
        listing.flush()
        command = [
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "-L",
            listing.name,
            "-f",
            "-",
            dump_path,
        ]
        with (
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors) as process,
            archive.open("dump.sql", "w", force_zip64=True) as sql_file,
        ):
            shutil.copyfileobj(process.stdout, sql_file, CHUNK)
        if process.returncode != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()[-500:]
            raise PermanentError(f"The backup's dump cannot be read: {message}")


def _add_filestore(archive, archive_path):
    """The backup's files under ``filestore/``: regular files only, each
    under its own relative path (the backup was made without links; a path
    leaving the folder is refused, as tarfile's ``data`` filter does)."""
    with tarfile.open(archive_path, "r:gz") as files:
        for member in files:
            if not member.isfile():
                continue
            name = posixpath.normpath(member.name)
            if name.startswith(("/", "../")) or name == "..":
                raise PermanentError(f"The backup's files name a path outside them: {name}")
            source = files.extractfile(member)
            with archive.open(f"filestore/{name}", "w", force_zip64=True) as target:
                shutil.copyfileobj(source, target, CHUNK)


def export_path(folder):
    return os.path.join(folder, EXPORT_FILE)


def export_step(ctx):
    """The export job's one step: the requested backup of this tenant,
    checked against its checksums, written as Odoo's backup zip with the
    manifest of the tenant database's installed modules (read as its role)."""
    source = source_backup(ctx)
    if not source.of_this_tenant:
        raise PermanentError(f"Backup {source.name} is not one of {ctx.tenant.code}'s.")
    target = export_path(source.folder)
    if os.path.exists(target):
        ctx.log(f"{EXPORT_FILE} of backup {source.name} already written")
        return
    backups.verify(source.folder, source.dump_sha256, source.filestore_sha256)
    modules, pg_version = installed_modules(ctx.as_tenant, ctx.database)
    write_odoo_zip(source.folder, target, manifest(ctx.database, pg_version, modules))
    ctx.log(f"backup {source.name} written as Odoo's backup zip ({os.path.getsize(target)} bytes)")
