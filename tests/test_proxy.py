"""The reverse proxy in front of both runtimes, as `make run` starts it (Caddy
with the compose stack's Caddyfile): slow clients wait in the proxy, not in an
Odoo worker; /websocket reaches each runtime's gevent port; every host reaches
its own runtime only, a new tenant at once; forwarded headers are the proxy's."""

import base64
import contextlib
import hashlib
import http.client
import os
import socket
import threading
import time

import pytest
import requests

from .support import (
    TENANT_DB_PREFIX,
    JsonRpc,
    RpcError,
    provision,
    tenant_login,
)
from .support import admin_password as tenant_admin_password

# RFC 6455: the server proves it read the handshake with this.
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# What an attacker's client sends: a body announced, then one byte a second.
SLOW_BODY_BYTES = 60


def get(server, host, path="/web/login", **kwargs):
    headers = {"Host": host, **kwargs.pop("headers", {})}
    timeout = kwargs.pop("timeout", 30)
    return requests.get(f"{server.url}{path}", headers=headers, timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def proxied(cli, proxy):
    provision(cli, "px-a")
    return "px-a"


class SlowClient(threading.Thread):
    def __init__(self, port, host):
        super().__init__(daemon=True, name="slow-client")
        self.stopped = threading.Event()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(
            (
                f"POST /web/login HTTP/1.1\r\nHost: {host}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {SLOW_BODY_BYTES}\r\n\r\n"
            ).encode()
        )

    def run(self):
        for _ in range(SLOW_BODY_BYTES - 1):
            if self.stopped.wait(1):
                return
            try:
                self.sock.sendall(b"a")
            except OSError:
                return

    def close(self):
        self.stopped.set()
        self.sock.close()


@contextlib.contextmanager
def slow_clients(port, host, count=3):
    clients = [SlowClient(port, host) for _ in range(count)]
    for client in clients:
        client.start()
    try:
        time.sleep(2)  # their headers are in, their bodies trickle
        yield
    finally:
        for client in clients:
            client.close()


def timed_get(server, host, timeout):
    started = time.monotonic()
    response = get(server, host, timeout=timeout)
    return response, time.monotonic() - started


def test_slow_clients_wait_in_the_proxy_not_in_a_worker(proxied, proxy, tenant_server):
    host = f"{proxied}.localhost"
    # Through the proxy: the tenant runtime (2 workers) never sees them.
    with slow_clients(proxy.port, host):
        response, elapsed = timed_get(proxy, host, timeout=10)
        assert response.status_code == 200 and elapsed < 3, elapsed
        platform, elapsed = timed_get(proxy, "localhost", timeout=10)
        assert platform.status_code == 200 and elapsed < 3, elapsed
    # The same clients on the runtime's own port hold both its workers: what
    # the proxy is for.
    with slow_clients(tenant_server.port, host), pytest.raises(requests.Timeout):
        get(tenant_server, host, timeout=4)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if get(tenant_server, host, timeout=5).status_code == 200:
                break
        time.sleep(0.5)
    else:
        pytest.fail("the tenant runtime did not recover from the slow clients")


def websocket_handshake(port, host):
    """A real websocket handshake on /websocket: (status, whether the
    Sec-WebSocket-Accept answer proves a websocket server read it)."""
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            (
                f"GET /websocket HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    headers = {name.lower(): value for name, value in headers.items()}
    expected = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
    return int(lines[0].split()[1]), headers.get("sec-websocket-accept") == expected


def test_websocket_reaches_each_runtimes_gevent_port(proxied, proxy, tenant_server):
    assert websocket_handshake(proxy.port, f"{proxied}.localhost") == (101, True)
    assert websocket_handshake(proxy.port, "localhost") == (101, True)
    # An HTTP worker cannot hold a websocket: the web client's "Real-time
    # connection lost" when nothing sends /websocket to the gevent port.
    assert websocket_handshake(tenant_server.port, f"{proxied}.localhost")[0] != 101


def test_a_tenant_provisioned_after_the_proxy_started_is_reachable_at_once(
    proxy, cli, credentials_dir
):
    assert get(proxy, "px-late.localhost").status_code == 404
    provision(cli, "px-late")
    response = get(proxy, "px-late.localhost")
    assert response.status_code == 200 and 'name="login"' in response.text
    rpc = tenant_login(proxy, "px-late", credentials_dir)
    assert rpc.call("res.users", "read", [rpc.uid], ["login"])[0]["login"] == (
        "admin@px-late.example"
    )


def test_each_host_reaches_its_own_runtime_only(
    proxied, proxy, platform_db, admin_password, credentials_dir
):
    platform = JsonRpc(proxy.url, platform_db, "admin", admin_password)
    assert platform.call("ipai.tenant", "search_count", [("code", "=", proxied)]) == 1
    login = JsonRpc(proxy.url, platform_db, "admin", admin_password, host="localhost")
    assert login.db == platform_db
    tenant = tenant_login(proxy, proxied, credentials_dir)
    assert tenant.call("res.users", "read", [tenant.uid], ["login"])[0]["login"] == (
        f"admin@{proxied}.example"
    )
    # The platform's login on a tenant's host reaches the tenant runtime,
    # which never opens the platform database.
    host = f"{proxied}.localhost"
    with pytest.raises(RpcError):
        JsonRpc(proxy.url, platform_db, "admin", admin_password, host=host)
    assert get(proxy, host, "/api/v1/tenants").status_code == 404
    # A tenant's login on the platform's host: the control plane serves no tenant.
    with pytest.raises(RpcError):
        JsonRpc(
            proxy.url,
            TENANT_DB_PREFIX + proxied,
            f"admin@{proxied}.example",
            tenant_admin_password(credentials_dir, proxied),
        )
    assert get(proxy, "nobody.localhost").status_code == 404
    assert get(proxy, "localhost", "/web/database/manager").status_code == 404


def test_a_client_cannot_forge_the_forwarded_headers(proxied, proxy):
    # Caddy replaces what a client claims: an unknown host stays unknown.
    forged = {"X-Forwarded-Host": f"{proxied}.localhost", "X-Forwarded-For": "10.1.2.3"}
    assert get(proxy, "nobody.localhost", headers=forged).status_code == 404
    assert get(proxy, f"{proxied}.localhost", headers=forged).status_code == 200


def direct_get(server, source, host, headers):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, source_address=(source, 0))
    try:
        conn.request("GET", "/web/login", headers={"Host": host, **headers})
        return conn.getresponse().status
    finally:
        conn.close()


def test_a_runtime_believes_forwarded_headers_from_the_proxys_address_only(proxied, tenant_server):
    forwarded = {"X-Forwarded-Host": f"{proxied}.localhost", "X-Forwarded-Proto": "https"}
    # From the proxy's address (ipai_proxy_addresses: 127.0.0.1 here).
    assert direct_get(tenant_server, "127.0.0.1", "nobody.localhost", forwarded) == 200
    # From any other client, even on this machine: its own Host only.
    assert direct_get(tenant_server, "127.0.0.2", "nobody.localhost", forwarded) == 404


REALTIME_LOST = "text=Real-time connection lost"


@contextlib.contextmanager
def web_client(chromium, base, code, credentials_dir):
    """A tenant's admin logged in to the web client at ``base``."""
    context = chromium.new_context()
    page = context.new_page()
    try:
        page.goto(f"{base}/web/login")
        page.fill("input[name=login]", f"admin@{code}.example")
        page.fill("input[name=password]", tenant_admin_password(credentials_dir, code))
        page.click("button[type=submit]")
        page.wait_for_selector(".o_main_navbar")
        yield page
    finally:
        context.close()


@pytest.mark.browser
def test_the_web_client_keeps_its_real_time_connection_through_the_proxy(
    proxied, proxy, tenant_server, chromium, credentials_dir
):
    host = f"{proxied}.localhost"
    with web_client(chromium, f"http://{host}:{proxy.port}", proxied, credentials_dir) as page:
        page.wait_for_timeout(10_000)  # the bus retries a few seconds before it says so
        assert not page.locator(REALTIME_LOST).count()
    # On the runtime's own port no websocket opens: what users saw before.
    with web_client(chromium, tenant_server.host_url(host), proxied, credentials_dir) as page:
        page.wait_for_selector(REALTIME_LOST, timeout=30_000)
