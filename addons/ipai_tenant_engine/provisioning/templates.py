"""Template databases: one per module set, built once, copied per tenant.

A template is keyed by a hash of its module names and their code (manifest
versions, plus a content hash of this repository's addons, which change
without version bumps in development), so a changed module set or changed
addon gets a new template and old tenants keep working.
"""

import hashlib
import json
import os
import subprocess
import sys
import time

import odoo
from odoo.addons.ipai_tenant_core.infra import pg
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError
from odoo.addons.ipai_tenant_runtime import credentials
from odoo.modules import module as odoo_module
from odoo.tools import config

from . import filestore, runtime_access, tenant_db

REPO_ADDONS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_TIMEOUT = 1800
# Read by ipai_tenant_runtime's module gate in the child Odoo.
ALLOWED_MODULES_ENV = "IPAI_ALLOWED_MODULES"
CHILD_ENVIRONMENT = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "PGHOST",
    "PGPORT",
    "PGSSLMODE",
    "PGSSLROOTCERT",
)


def template_key(module_names):
    # "format" changes whenever the way templates are built changes.
    fingerprint = {"odoo": odoo.release.version, "format": 3, "modules": {}}
    for name in sorted(module_names):
        manifest = odoo_module.get_manifest(name)
        if not manifest:
            raise PermanentError(f"Module '{name}' is not in the addons path.")
        entry = {"version": manifest.get("version")}
        path = odoo_module.get_module_path(name)
        if path and os.path.dirname(path) == REPO_ADDONS:
            entry["tree"] = _tree_hash(path)
        fingerprint["modules"][name] = entry
    digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()
    return digest[:16]


_KEY_CACHE = {}
KEY_CACHE_SECONDS = 10


def current_template_key(module_names):
    """``template_key`` remembered for a few seconds: a signup asks for it
    (to claim a pool member), and hashing the addons' files costs
    milliseconds; an addon changed on disk is seen within seconds."""
    names = tuple(sorted(module_names))
    cached = _KEY_CACHE.get(names)
    now = time.monotonic()
    if cached and now - cached[1] < KEY_CACHE_SECONDS:
        return cached[0]
    key = template_key(names)
    _KEY_CACHE[names] = (key, now)
    return key


def _tree_hash(path):
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "tests"))
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(root, name)
            digest.update(os.path.relpath(full, path).encode())
            with open(full, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()


def building_mark(name):
    return f"template-building:{name}"


def ready_mark(name):
    return f"template:{name}"


def build(server, name, module_names, owner, log):
    """Build template ``name`` with ``module_names`` installed, without demo
    data; crash-safe: built under a scratch name and renamed when complete.
    Odoo runs as ``owner``, so everything inside belongs to that role, which
    each tenant's copy hands to the tenant's own role."""
    scratch = f"{name}_building"
    pg.drop_database(server, scratch)
    filestore.remove(scratch)
    runtime_access.ensure_owned_role(server, owner)
    pg.create_empty_database(server, scratch)
    pg.hand_over(server, scratch, owner, owner)
    log(f"installing {', '.join(sorted(module_names))} into a fresh database")
    odoo_modules(scratch, module_names, role=owner, server=server)
    tenant_db.neutralize_template(server, scratch)
    pg.mark_database(server, scratch, building_mark(name))
    pg.rename_database(server, scratch, name)
    filestore.move(scratch, name)
    # Marked last: a marked template is a complete one.
    pg.mark_database(server, name, ready_mark(name))
    # Nobody ever connects to a template: it is copied, never served.
    pg.set_allow_connections(server, name, False)
    log(f"template {name} ready ({pg.database_size(server, name) // 1024 // 1024} MB)")


# ``python -m odoo`` for a role that may open its own database only: the
# database always exists (Odoo would look for it in ``postgres``), and the
# bus and cron notifications Odoo sends through ``postgres`` go to the
# database itself (nobody listens to this short-lived process anyway).
_ODOO_IN_OWN_DATABASE = """
import os, sys
from odoo import sql_db
from odoo.service import db
def _exists(name):
    raise db.DatabaseExists(name)
db._create_empty_database = _exists
_connection_info_for = sql_db.connection_info_for
def connection_info_for(name, readonly=False):
    dbname, info = _connection_info_for(name, readonly)
    if name == "postgres":
        info = dict(info, database=os.environ["IPAI_ODOO_DATABASE"])
    return dbname, info
sql_db.connection_info_for = connection_info_for
from odoo.cli.command import main
sys.argv[0] = "odoo"
main()
"""


def odoo_modules(dbname, module_names, role, update=False, server=None, allowed=None):
    """Install (or update) modules in ``dbname`` with a separate Odoo process,
    so the platform process never loads a tenant registry. Odoo runs as
    ``role``, the owner of the database's objects, so what it creates
    belongs to that role too, on ``server`` (Odoo's own by default). It
    installs nothing outside ``allowed`` (default: ``module_names``) and
    what their manifests bring, whatever the database has marked."""
    verb = "Updating the modules" if update else "Installing the modules"
    _run_odoo(
        dbname,
        role,
        server,
        ["-u" if update else "-i", ",".join(sorted(module_names))],
        verb,
        allowed=allowed or module_names,
    )


def load_registry(dbname, role, server=None, allowed=None):
    """Load ``dbname``'s registry in a separate Odoo process (as ``role``)
    and stop: it fails when a module cannot be loaded."""
    _run_odoo(dbname, role, server, [], "Loading the registry", allowed=allowed)


def _run_odoo(dbname, role, server, action, verb, allowed=None):
    # ``python -c`` running Odoo's own main rather than odoo-bin: a source
    # tree has both, the packaged Odoo of the official image only the module
    # (its launcher is /usr/bin/odoo). TZ=UTC is what odoo-bin sets first.
    command = [sys.executable, "-c", _ODOO_IN_OWN_DATABASE]
    if config.rcfile and os.path.exists(config.rcfile):
        command += ["-c", config.rcfile]
    if server is not None and server.host:
        command += ["--db_host", server.host]
    if server is not None and server.port:
        command += ["--db_port", str(server.port)]
    command += [
        "--db_user",
        role,
        "-d",
        dbname,
        *action,
        "--stop-after-init",
        "--without-demo=all",
        "--workers=0",
        "--max-cron-threads=0",
        "--log-level=warn",
        "--no-http",
    ]
    # The child gets what it needs and no secret of the control plane's; the
    # role's password goes through libpq's environment, out of argv.
    env = {key: value for key, value in os.environ.items() if key in CHILD_ENVIRONMENT}
    env.update(TZ="UTC", PGPASSWORD=credentials.role_password(role), IPAI_ODOO_DATABASE=dbname)
    if allowed is not None:
        # The module gate of ipai_tenant_runtime (module_gate.py) in the child.
        env[ALLOWED_MODULES_ENV] = ",".join(sorted(allowed))
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False, env=env
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise PermanentError(f"{verb} failed:\n{tail}")
