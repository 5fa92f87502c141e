"""docs/n8n/create-tenant.json: importable (an n8n workflow export), it
calls documented routes only, and run node by node (tests/n8n_runner.js
executes the node types it uses) it creates a tenant through the real API,
polls its job and posts the result to a receiver on loopback."""

import json
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from .support import REPO_ROOT, mint_api_key, tenant_row

WORKFLOW = REPO_ROOT / "docs" / "n8n" / "create-tenant.json"
RUNNER = REPO_ROOT / "tests" / "n8n_runner.js"
NODE_TYPES = {
    "n8n-nodes-base.webhook",
    "n8n-nodes-base.set",
    "n8n-nodes-base.httpRequest",
    "n8n-nodes-base.wait",
    "n8n-nodes-base.if",
}


@pytest.fixture(scope="module")
def workflow():
    return json.loads(WORKFLOW.read_text())


def test_it_is_an_n8n_workflow_export(workflow):
    assert {"name", "nodes", "connections", "settings"} <= set(workflow)
    names = [node["name"] for node in workflow["nodes"]]
    assert len(names) == len(set(names))
    assert len({node["id"] for node in workflow["nodes"]}) == len(names)
    for node in workflow["nodes"]:
        assert node["type"] in NODE_TYPES, node["type"]
        assert isinstance(node["typeVersion"], (int, float))
        assert len(node["position"]) == 2 and isinstance(node["parameters"], dict)
    for source, outputs in workflow["connections"].items():
        assert source in names
        for branch in outputs["main"]:
            for target in branch:
                assert target["node"] in names and target["type"] == "main"
    # The API key is a credential picked at import, never in the file.
    assert "ipai_" not in WORKFLOW.read_text()


def test_it_calls_documented_routes_only(workflow, openapi):
    api_calls = 0
    for node in workflow["nodes"]:
        if node["type"] != "n8n-nodes-base.httpRequest":
            continue
        params = node["parameters"]
        if "/api/v1" not in params["url"]:
            continue  # the result goes to a URL of the user's choosing
        api_calls += 1
        path = params["url"].split("/api/v1", 1)[1]
        path = re.sub(r"\{\{.*?\}\}", "x", path)
        route = openapi.route_of(path)
        assert route, f"{node['name']}: {path} is not documented"
        operation = openapi.document["paths"][route].get(params["method"].lower())
        assert operation, f"{node['name']}: {params['method']} {route} is not documented"
        documented_headers = {
            p["name"] for p in operation.get("parameters", []) if p["in"] == "header"
        }
        for header in (params.get("headerParameters") or {}).get("parameters", []):
            assert header["name"] in documented_headers
        if params.get("jsonBody"):
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            name = schema["$ref"].rsplit("/", 1)[1]
            sent = set(re.findall(r"(\w+):", params["jsonBody"].split("JSON.stringify(", 1)[1]))
            assert sent <= set(openapi.document["components"]["schemas"][name]["properties"])
    assert api_calls == 3


class Receiver(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        Receiver.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_running_it_creates_the_tenant_and_posts_the_result(
    platform_server, admin_rpc, platform_db
):
    receiver = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    key = mint_api_key(admin_rpc, admin_rpc.uid, "n8n")
    signup = {"code": "n8n-acme", "name": "N8N Acme", "email": "boss@n8n-acme.test"}
    settings = {
        "api_base": platform_server.url,
        "result_url": f"http://127.0.0.1:{receiver.server_address[1]}/signups",
    }
    try:
        run = subprocess.run(
            ["node", str(RUNNER), str(WORKFLOW), json.dumps(signup), json.dumps(settings)],
            capture_output=True,
            text=True,
            timeout=600,
            env={
                "N8N_HEADER_NAME": "Authorization",
                "N8N_HEADER_VALUE": f"Bearer {key}",
                "PATH": "/usr/bin:/bin",
            },
            check=False,
        )
    finally:
        receiver.shutdown()
    assert run.returncode == 0, run.stderr
    executed = [json.loads(line)["node"] for line in run.stdout.splitlines()]
    assert executed[:4] == ["Signup", "Settings", "Create tenant", "Wait"]
    assert executed[-2:] == ["Get tenant", "Post result"]
    assert Receiver.received == [
        {
            "tenant": "n8n-acme",
            "state": "active",
            "url": Receiver.received[0]["url"],
            "job_state": "done",
            "error": None,
        }
    ]
    assert Receiver.received[0]["url"].startswith("http://n8n-acme.")
    assert tenant_row(platform_db, "n8n-acme")[0] == "active"
