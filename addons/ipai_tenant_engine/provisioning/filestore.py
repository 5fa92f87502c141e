"""Filestores follow their databases: copied with them, removed with them.

A copy owns its files: no hard link to its source. Odoo never rewrites a
filestore file in place, but the runtimes share the volume, and a file shared
by two tenants would let whoever can write one change the other's.
(``shutil.copy2`` uses ``copy_file_range``, which shares blocks copy-on-write
where the file system can, e.g. btrfs or XFS.)
"""

import os
import shutil

from odoo.tools import config


def path(dbname):
    """The filestore of ``dbname``, which must resolve inside the filestore
    folder (a name with '..' or a planted symbolic link reaches nothing)."""
    root = os.path.realpath(config.filestore(""))
    resolved = os.path.realpath(config.filestore(dbname))
    if os.path.dirname(resolved) != root.rstrip(os.sep) or not dbname:
        raise ValueError(f"The filestore of {dbname!r} would lie outside {root}.")
    return resolved


def copy(source_db, target_db):
    """Copy ``source_db``'s filestore to ``target_db``; atomic via rename, so
    a rerun after a crash either finds the finished copy or starts over."""
    source, target = path(source_db), path(target_db)
    if os.path.isdir(target) or not os.path.isdir(source):
        return False
    staging = f"{target}.ipai-partial"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=_symlinks, copy_function=_copy_file)
    os.rename(staging, target)
    return True


def move(source_db, target_db):
    source, target = path(source_db), path(target_db)
    if os.path.isdir(source) and not os.path.isdir(target):
        os.rename(source, target)
        return True
    return False


def remove(dbname):
    target = path(dbname)
    for leftover in (target, f"{target}.ipai-partial"):
        shutil.rmtree(leftover, ignore_errors=True)


def size(dbname):
    total = 0
    for root, _dirs, files in os.walk(path(dbname)):
        total += sum(os.path.getsize(os.path.join(root, name)) for name in files)
    return total


def _symlinks(folder, names):
    """Odoo never writes a symbolic link into a filestore; one found there was
    planted (the tenant runtime shares the volume) to make this process copy
    a file of its own choosing, such as /proc/self/environ: skipped."""
    return {name for name in names if os.path.islink(os.path.join(folder, name))}


def _copy_file(src, dst):
    if os.path.islink(src):
        return
    shutil.copy2(src, dst, follow_symlinks=False)
