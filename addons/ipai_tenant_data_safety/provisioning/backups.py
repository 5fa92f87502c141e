"""Backups of tenant databases and filestores, and their restore.

A backup is a folder ``<backup root>/<tenant code>/<stamp>-<kind>-j<job>/``
holding ``database.dump`` (``pg_dump -Fc`` of the schema ``public``, where
Odoo keeps everything) and ``filestore.tar.gz``, written under a
``.partial`` name and renamed when complete. The row counts of a few key
tables are taken in the very snapshot ``pg_dump`` reads, so a restore test
can compare them exactly.

Restores go into a scratch database made empty as Odoo makes one; the dump
is replayed by the tenant's own role (``--no-owner``), so nothing in it runs
with the control plane's rights, and everything it creates belongs to that
role. A file whose checksum differs from the one recorded is refused before
anything is created.
"""

import contextlib
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile

from odoo.addons.ipai_tenant_core.infra import pg
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError, RetryableError
from odoo.addons.ipai_tenant_runtime import credentials
from psycopg2 import sql

DUMP_FILE = "database.dump"
FILESTORE_FILE = "filestore.tar.gz"
# Tables every Odoo database has, counted at backup time and after a restore.
KEY_TABLES = ("res_partner", "res_users", "res_company", "ir_attachment", "mail_message")
RESTORE_TIMEOUT = 3600
# Entries a tenant's role may not (and need not) replay: the database's own
# schema ``public`` and the extensions, made as Odoo makes an empty database.
_SKIPPED_ENTRIES = ("SCHEMA", "COMMENT - SCHEMA", "EXTENSION", "COMMENT - EXTENSION")


@contextlib.contextmanager
def written_whole(target):
    """A path to write ``target`` under (``<target>.partial``), renamed to
    ``target`` when the block ends and removed when it fails: a reader
    never meets half a file."""
    partial = f"{target}.partial"
    try:
        yield partial
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def take(server, tenant_server, dbname, filestore_dir, folder):
    """Write a complete backup of ``dbname`` into ``folder`` (replacing what
    an interrupted run left) and return what the record keeps: file names,
    sizes, checksums and row counts. ``tenant_server`` is the server as the
    tenant's role: the counts run with the tenant's rights only."""
    partial = folder + ".partial"
    for leftover in (partial, folder):
        shutil.rmtree(leftover, ignore_errors=True)
    os.makedirs(partial, mode=0o700)
    dump_path = os.path.join(partial, DUMP_FILE)
    with tenant_server.connect(dbname) as conn:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True, autocommit=False)
        with conn.cursor() as cr:
            cr.execute("SELECT pg_export_snapshot()")
            (snapshot,) = cr.fetchone()
            counts = row_counts(cr)
            _pg_dump(server, dbname, dump_path, snapshot)
        conn.rollback()
    archive_path = os.path.join(partial, FILESTORE_FILE)
    _archive_filestore(filestore_dir, archive_path)
    os.rename(partial, folder)
    return {
        "folder": folder,
        "dump_size": os.path.getsize(os.path.join(folder, DUMP_FILE)),
        "dump_sha256": sha256(os.path.join(folder, DUMP_FILE)),
        "filestore_size": os.path.getsize(os.path.join(folder, FILESTORE_FILE)),
        "filestore_sha256": sha256(os.path.join(folder, FILESTORE_FILE)),
        "row_counts": counts,
    }


def row_counts(cr):
    cr.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY(%s)",
        [list(KEY_TABLES)],
    )
    counts = {}
    for (table,) in sorted(cr.fetchall()):
        cr.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", table)))
        counts[table] = cr.fetchone()[0]
    return counts


def connection_args(server):
    args = ["-U", server.user]
    if server.host:
        args += ["-h", server.host]
    if server.port:
        args += ["-p", str(server.port)]
    return args


def pg_env(password):
    env = dict(os.environ)
    env.pop("PGPASSWORD", None)
    if password:
        env["PGPASSWORD"] = password
    return env


def _pg_dump(server, dbname, target, snapshot):
    command = [
        "pg_dump",
        "-Fc",
        "--schema=public",
        f"--snapshot={snapshot}",
        "-f",
        target,
        *connection_args(server),
        "-d",
        dbname,
    ]
    result = subprocess.run(
        command, env=pg_env(server.password), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RetryableError(f"pg_dump failed: {result.stderr.strip()[-500:]}")


def _archive_filestore(source, target):
    """A tar of the filestore without symbolic links (never written by Odoo:
    one found there was planted to make this process read another file)."""

    def no_links(info):
        return None if info.issym() or info.islnk() else info

    with tarfile.open(target, "w:gz") as archive:
        if os.path.isdir(source):
            archive.add(source, arcname=".", filter=no_links)


def verify(folder, dump_sha256, filestore_sha256):
    """Refuse a backup whose files are missing or changed, before anything
    is touched."""
    for name, expected in ((DUMP_FILE, dump_sha256), (FILESTORE_FILE, filestore_sha256)):
        path = os.path.join(folder or "", name)
        if not folder or not os.path.isfile(path):
            raise PermanentError(f"The backup file {path} is missing; nothing was changed.")
        if sha256(path) != expected:
            raise PermanentError(
                f"The backup file {path} does not match its recorded checksum (corrupted or "
                "changed); nothing was changed."
            )


def restore_database(server, role, dbname, dump_path, mark, cell=None, jobs=1):
    """``dbname`` made empty as Odoo makes a database, marked ``mark``, then
    the dump replayed into it by ``role`` (of cell ``cell``), which owns
    everything it makes; ``jobs`` tables at a time (a directory dump)."""
    pg.create_empty_database(server, dbname)
    pg.mark_database(server, dbname, mark)
    pg.hand_over(server, dbname, role, role)
    with tempfile.NamedTemporaryFile("w", suffix=".list") as listing:
        listing.write(restore_list(dump_path))
        listing.flush()
        command = [
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            *([f"-j{jobs}"] if jobs > 1 else []),
            "-L",
            listing.name,
            "-U",
            role,
            *connection_args(server)[2:],
            "-d",
            dbname,
            dump_path,
        ]
        result = subprocess.run(
            command,
            env=pg_env(credentials.role_password(role, cell)),
            capture_output=True,
            text=True,
            timeout=RESTORE_TIMEOUT,
            check=False,
        )
    if result.returncode != 0:
        raise PermanentError(f"pg_restore failed: {result.stderr.strip()[-800:]}")


def restore_list(dump_path):
    """The dump's entries a replay runs: all but the schema and extensions."""
    result = subprocess.run(
        ["pg_restore", "-l", dump_path], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise PermanentError(f"The dump cannot be read: {result.stderr.strip()[-500:]}")
    kept = []
    for line in result.stdout.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4 and not line.startswith(";"):
            description = parts[3]
            if description.startswith(tuple(entry + " " for entry in _SKIPPED_ENTRIES)):
                continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def extract_filestore(archive_path, target):
    """Unpack into ``target`` through a staging folder renamed when complete;
    tarfile's ``data`` filter refuses links, devices and paths leaving it."""
    staging = f"{target}.ipai-partial"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging, mode=0o700)
    with tarfile.open(archive_path, "r:gz") as archive:
        archive.extractall(staging, filter="data")
    shutil.rmtree(target, ignore_errors=True)
    os.rename(staging, target)


def bump_signaling(tenant_server, dbname, above):
    """Move the restored database's registry and cache signals past
    ``above`` (what the replaced database had), so a running Odoo that
    served the old one reloads its registry and caches."""
    with tenant_server.connect(dbname) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' "
            "AND sequencename LIKE 'base\\_%%signaling%%'"
        )
        for (name,) in cr.fetchall():
            cr.execute(
                sql.SQL("SELECT setval(%s, greatest(%s, (SELECT last_value FROM {})) + 1)").format(
                    sql.Identifier("public", name)
                ),
                [f"public.{name}", above.get(name, 0)],
            )


def signaling_values(tenant_server, dbname):
    with tenant_server.connect(dbname) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' "
            "AND sequencename LIKE 'base\\_%%signaling%%'"
        )
        return {name: value or 0 for name, value in cr.fetchall()}


def remove(folder):
    for path in (folder, f"{folder}.partial"):
        shutil.rmtree(path, ignore_errors=True)
