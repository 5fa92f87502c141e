"""A customer's own Odoo 18 database, brought in as a new tenant.

What comes in is Odoo's own backup zip (``manifest.json``, ``dump.sql``,
``filestore/``), as Odoo's database manager or ``odoo-bin db dump`` makes
it. It is checked before anything is made (``check``: a whole zip, Odoo
18, the modules within the plan, the size within the plan's storage), then
an import job (kinds.py) loads it by the tenant's own role into a scratch
database (``sql_script``: no psql, nothing but what pg_dump writes), checks
what the database really holds, and makes it the tenant's, with the
source's passwords and keys left out. The uploaded file is kept under
``<backup root>/imports/`` until the job ends.
"""

import contextlib
import io
import json
import os
import posixpath
import re
import shutil
import zipfile
import zlib
from dataclasses import dataclass, replace

from odoo.addons.ipai_platform_rules import lifecycle
from odoo.addons.ipai_tenant_core.infra import pg
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError
from odoo.addons.ipai_tenant_engine.provisioning import (
    filestore,
    operations,
    runtime_access,
    tenant_db,
)
from odoo.addons.ipai_tenant_runtime import module_gate

from . import backup_steps, backups, sql_script
from .spec import of

IMPORTS_FOLDER = "imports"
ODOO_MAJOR = (18, 0)
CHUNK = 1 << 20
LOAD_TIMEOUT_MS = backups.RESTORE_TIMEOUT * 1000
_UPLOAD_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,120}\.zip$")


@dataclass(frozen=True)
class CheckedBackup:
    version: str
    modules: tuple
    dump_bytes: int
    files_bytes: int
    file_count: int

    @property
    def size_bytes(self):
        return self.dump_bytes + self.files_bytes


def allowed_modules(plan_modules):
    """What a tenant of a plan with ``plan_modules`` (and the tenant-side
    modules) may have installed: the runtime's own module gate's set."""
    return module_gate.closure(frozenset(plan_modules))


def _refuse(message):
    raise PermanentError(f"{message} Nothing was created.")


def _filestore_name(name):
    """The path of a ``filestore/`` entry inside the filestore, or None for
    a folder entry; a path leaving it is refused."""
    relative = name[len("filestore/") :]
    if not relative or relative.endswith("/"):
        return None
    normal = posixpath.normpath(relative)
    if normal.startswith(("/", "../")) or normal == ".." or "\\" in relative:
        _refuse(f"The backup names a file outside its filestore: {name}.")
    return normal


def check(path, allowed, max_bytes):
    """``path`` as an Odoo 18 backup zip a tenant may import: complete
    (every entry's CRC), Odoo 18, its modules within ``allowed``, its
    database and files within ``max_bytes`` (0: no limit), its dump nothing
    but what pg_dump writes (sql_script.scan). Returns a CheckedBackup or
    raises PermanentError with what is wrong."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        _refuse(f"This is not a readable zip file ({exc}).")
    with archive:
        entries = {info.filename: info for info in archive.infolist()}
        for required in ("manifest.json", "dump.sql"):
            if required not in entries:
                _refuse(f"This is not an Odoo backup: {required} is missing.")
        files = [
            info
            for name, info in entries.items()
            if name.startswith("filestore/") and _filestore_name(name)
        ]
        others = (
            set(entries)
            - {"manifest.json", "dump.sql"}
            - {name for name in entries if name.startswith("filestore/")}
        )
        if others:
            _refuse(f"The backup holds more than Odoo's: {sorted(others)[0]}.")
        dump_bytes = entries["dump.sql"].file_size
        files_bytes = sum(info.file_size for info in files)
        if max_bytes and dump_bytes + files_bytes > max_bytes:
            _refuse(
                f"The backup holds {_megabytes(dump_bytes + files_bytes)} "
                f"(database and files), more than the plan's {_megabytes(max_bytes)}."
            )
        try:
            manifest = json.loads(archive.read("manifest.json"))
            broken = archive.testzip()
        except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError) as exc:
            _refuse(f"The backup is damaged ({exc}).")
        if broken:
            _refuse(f"The backup is damaged: {broken} does not match its checksum.")
        version, modules = _manifest_facts(manifest)
        outside = sorted(set(modules) - set(allowed))
        if outside:
            _refuse(f"The backup has modules the plan does not offer: {', '.join(outside)}.")
        try:
            with archive.open("dump.sql") as raw:
                sql_script.scan(io.TextIOWrapper(raw, encoding="utf-8"))
        except UnicodeDecodeError:
            _refuse("The backup's dump.sql is not UTF-8 text.")
        except PermanentError as exc:
            _refuse(str(exc))
    return CheckedBackup(version, tuple(sorted(modules)), dump_bytes, files_bytes, len(files))


def _manifest_facts(manifest):
    if not isinstance(manifest, dict):
        _refuse("The backup's manifest.json is not Odoo's.")
    info = manifest.get("version_info")
    modules = manifest.get("modules")
    if not (isinstance(info, list) and len(info) >= 2) or not isinstance(modules, dict):
        _refuse("The backup's manifest.json is not Odoo's.")
    if tuple(info[:2]) != ODOO_MAJOR:
        _refuse(
            f"The backup comes from Odoo {manifest.get('version') or info[:2]}; "
            f"only Odoo {ODOO_MAJOR[0]}.{ODOO_MAJOR[1]} backups can be imported."
        )
    return str(manifest.get("version")), tuple(modules)


def _megabytes(size):
    return f"{size / 1048576:.1f} MB"


# ------------------------------------------------------------------ upload


def upload_folder(backup_root):
    return os.path.join(backup_root, IMPORTS_FOLDER)


def upload_path(backup_root, name):
    """Where an accepted upload named ``name`` lies; a name that is not one
    the platform gives (a path, a link elsewhere) reaches nothing."""
    if not _UPLOAD_NAME.match(name or ""):
        raise PermanentError(f"{name!r} is not an import's file name.")
    return os.path.join(upload_folder(backup_root), name)


def keep_upload(source, backup_root, name):
    """A copy of the customer's file for the job, under a partial name
    renamed when complete; returns its path."""
    target = upload_path(backup_root, name)
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    with (
        backups.written_whole(target) as partial,
        open(source, "rb") as reader,
        open(partial, "wb") as writer,
    ):
        shutil.copyfileobj(reader, writer, CHUNK)
    return target


def remove_upload(backup_root, name):
    with contextlib.suppress(FileNotFoundError):
        os.remove(upload_path(backup_root, name))


# ------------------------------------------------------------------- steps


def _upload(ctx):
    path = upload_path(of(ctx).backup_root, ctx.params.get("upload") or "")
    if not os.path.isfile(path) or os.path.islink(path):
        raise PermanentError("The uploaded backup is gone; nothing was created.")
    if backups.sha256(path) != ctx.params.get("sha256"):
        raise PermanentError("The uploaded backup changed since it was checked; refused.")
    return path


def _check_upload(ctx):
    return check(_upload(ctx), allowed_modules(ctx.tenant.allowed_modules), of(ctx).import_limit)


def check_upload(ctx):
    """Checked again as the job starts: the file, its checksum, the plan as
    it is now (what the request saw may have changed)."""
    checked = _check_upload(ctx)
    ctx.log(
        f"Odoo {checked.version} backup: {len(checked.modules)} modules, "
        f"database {_megabytes(checked.dump_bytes)}, "
        f"{checked.file_count} files ({_megabytes(checked.files_bytes)})"
    )


def load_scratch(ctx):
    """An empty database owned by the tenant's role, the dump replayed in it
    by that role (sql_script), and the files unpacked beside it; a leftover
    of an interrupted run is dropped first."""
    path = _upload(ctx)
    scratch = backup_steps.scratch_name(ctx.database)
    if backup_steps.drop_if_ours(ctx, scratch, backup_steps.restoring_mark(ctx.tenant.code)):
        ctx.log(f"dropped {scratch}, left by an interrupted run")
    filestore.remove(scratch)
    role = ctx.tenant.runtime_role
    runtime_access.ensure_owned_role(ctx.server, role, ctx.tenant.cell)
    pg.create_empty_database(ctx.server, scratch)
    pg.mark_database(ctx.server, scratch, backup_steps.restoring_mark(ctx.tenant.code))
    pg.hand_over(ctx.server, scratch, role, role)
    loader = replace(ctx.as_tenant, statement_timeout_ms=LOAD_TIMEOUT_MS)
    with (
        zipfile.ZipFile(path) as archive,
        archive.open("dump.sql") as raw,
        loader.connect(scratch) as connection,
    ):
        count = sql_script.load(connection, io.TextIOWrapper(raw, encoding="utf-8"))
    ctx.log(f"{count} statements of the dump replayed into {scratch} by {role}")
    files = _unpack_files(path, filestore.path(scratch))
    ctx.log(f"{files} files unpacked into its filestore")


def _unpack_files(path, target):
    """The zip's ``filestore/`` into ``target`` through a staging folder
    renamed when complete: regular files only, each under its own path."""
    staging = f"{target}.ipai-partial"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging, mode=0o700)
    count = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.startswith("filestore/"):
                continue
            relative = _filestore_name(info.filename)
            if relative is None:
                continue
            destination = os.path.join(staging, *relative.split("/"))
            os.makedirs(os.path.dirname(destination), mode=0o700, exist_ok=True)
            with archive.open(info) as reader, open(destination, "xb") as writer:
                shutil.copyfileobj(reader, writer, CHUNK)
            count += 1
    shutil.rmtree(target, ignore_errors=True)
    os.rename(staging, target)
    return count


def check_loaded(ctx):
    """What the database holds, not what its manifest said: Odoo 18's base,
    and nothing installed outside the plan."""
    rows = ctx.as_tenant.execute(
        "SELECT name, latest_version FROM ir_module_module "
        "WHERE state IN ('installed', 'to upgrade', 'to remove')",
        dbname=ctx.database,
    )
    installed = dict(rows or [])
    base = installed.get("base") or ""
    if not base.startswith(f"{ODOO_MAJOR[0]}.{ODOO_MAJOR[1]}."):
        raise PermanentError(f"The database's base module is {base or 'missing'}, not Odoo 18's.")
    outside = sorted(set(installed) - allowed_modules(ctx.tenant.allowed_modules))
    if outside:
        raise PermanentError(
            f"The database has modules installed that the plan does not offer: "
            f"{', '.join(outside)}; nothing was kept."
        )
    ctx.log(f"the database holds Odoo {base} and {len(installed)} modules, all in the plan")


def forget_source_secrets(ctx):
    """The source's credentials stay out: every user's password, API key,
    two-factor secret and session log; the mail servers it sent through
    (the platform's mail replaces them) and their passwords; mail fetching
    from its servers. Its administrator gets a new password next
    (set_admin), the other users set theirs through Odoo's reset link."""
    cleared = tenant_db.forget_credentials(ctx.as_tenant, ctx.database)
    ctx.log(f"left the source's credentials out ({', '.join(cleared)})")


def remove_uploaded(ctx):
    remove_upload(of(ctx).backup_root, ctx.params.get("upload") or "")
    ctx.log("removed the uploaded backup")


def undo_import(ctx):
    """A failed import leaves nothing: no scratch, no database, no roles,
    no files, no upload."""
    if ctx.tenant.state != lifecycle.ACTIVE:
        backup_steps.remove_scratch(ctx)
        operations.undo_partial_tenant(ctx)
    remove_upload(of(ctx).backup_root, ctx.params.get("upload") or "")
