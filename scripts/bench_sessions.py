"""`make bench-sessions`: what a shared session store costs a request.

Every request of the tenant runtime reads its session from the store
(``get``); a request that changed it (a login, a context switch, the
device trace now and then) also writes it (``save``). This times both, over
ROUNDS requests of a logged-in session, for:

- ``filesystem``: Odoo's own store, on the node's disk (no other node sees it);
- ``session_db``: OCA session_db 18.0 (the one the runtime loads), in the
  PostgreSQL store the control plane made, as the store's own role;
- ``redis``: Redis 7 (Debian's redis-server, started here on a free port),
  with the calls camptocamp's session_redis makes (GET; SET then EXPIRE).
  session_redis has no 18.0 release; the ``redis`` client is needed
  (``pip install redis``), else this column is skipped.

Prints p50 / p95 / mean per store in microseconds.

    .venv/bin/python scripts/bench_sessions.py [--rounds 500]   (IPAI_ODOO_CONF: .local/odoo.conf)
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.support import free_port, listening_process  # noqa: E402


def logged_in_session(store):
    """A session as Odoo 18 keeps one for a logged-in user."""
    from odoo import http

    session = store.new()
    session.update(http.get_default_session())
    session.update(
        db="odoo_acme",
        login="admin@acme.example",
        uid=2,
        session_token="f" * 64,
        context={"lang": "en_US", "tz": "Europe/Brussels", "uid": 2},
        _trace=[
            {
                "platform": "linux",
                "browser": "chrome",
                "ip_address": "127.0.0.1",
                "first_activity": time.time(),
                "last_activity": time.time(),
            }
        ],
    )
    return session


def timed(store, rounds):
    session = logged_in_session(store)
    store.save(session)
    reads, writes = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        read = store.get(session.sid)
        reads.append(time.perf_counter() - started)
        assert read.get("uid") == 2, "the store lost the session"
        read["context"]["tz"] = "UTC"
        started = time.perf_counter()
        store.save(read)
        writes.append(time.perf_counter() - started)
    store.delete(session)
    return reads, writes


def figures(samples):
    micro = sorted(value * 1e6 for value in samples)
    p95 = micro[int(len(micro) * 0.95) - 1]
    median, mean = statistics.median(micro), statistics.fmean(micro)
    return f"p50 {median:7.0f}  p95 {p95:7.0f}  mean {mean:7.0f}"


@contextmanager
def redis_server():
    """Debian's redis-server on loopback, without persistence, stopped on exit."""
    folder = tempfile.mkdtemp(prefix="ipai-bench-redis-")
    port = free_port()
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
               "--appendonly", "no", "--dir", folder]  # fmt: skip
    try:
        with listening_process(command, port, "redis-server"):
            yield port
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class RedisSessionStore:
    """session_redis's RedisSessionStore, reduced to what a request calls."""

    def __init__(self, client, session_class):
        from odoo.tools._vendor.sessions import SessionStore

        self._base = SessionStore(session_class)
        self.redis = client
        self.session_class = session_class

    def new(self):
        return self._base.new()

    def save(self, session):
        key = f"session:{session.sid}"
        if self.redis.set(key, json.dumps(dict(session)).encode()):
            self.redis.expire(key, 7 * 24 * 3600)

    def get(self, sid):
        saved = self.redis.get(f"session:{sid}")
        return self.session_class(json.loads(saved) if saved else {}, sid, False)

    def delete(self, session):
        self.redis.delete(f"session:{session.sid}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=500)
    rounds = parser.parse_args().rounds

    import odoo

    odoo.tools.config.parse_config(["-c", os.environ.get("IPAI_ODOO_CONF", ".local/odoo.conf")])
    odoo.modules.module.initialize_sys_path()
    from odoo import http
    from odoo.addons.ipai_tenant_runtime import session_store
    from odoo.addons.session_db.pg_session_store import PGSessionStore

    results = {}
    with tempfile.TemporaryDirectory(prefix="ipai-bench-sessions-") as folder:
        files = http.FilesystemSessionStore(folder, session_class=http.Session)
        results["filesystem"] = timed(files, rounds)
    # The store and role the tenant runtime uses, on the configured server.
    store = PGSessionStore(session_store.store_uri(), session_class=http.Session)
    results["session_db"] = timed(store, rounds)

    try:
        import redis
    except ImportError:
        print("redis: skipped (no redis client: pip install redis)")
    else:
        with redis_server() as port:
            client = redis.Redis(host="127.0.0.1", port=port)
            results["redis"] = timed(RedisSessionStore(client, http.Session), rounds)

    print(f"{rounds} requests of a logged-in session, microseconds per request")
    for store, (reads, writes) in results.items():
        print(f"{store:<11} read (every request)  {figures(reads)}")
        print(f"{'':<11} write (when changed)  {figures(writes)}")


if __name__ == "__main__":
    main()
