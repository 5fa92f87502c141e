"""Attachments off the node: a tenant's files live in its own bucket on a
real S3-compatible server (moto's, enforcing IAM), written and read by any
node of the tenant runtime; none lands in a node's data directory.

The tenants are on a plan with OCA's fs_attachment; their storage is
configured as the provisioning step does it (tenant_db.configure_attachment_storage,
the key sealed for the database). The attacker is a tenant's admin with
server actions: it reads its own storage's key and turns it on the other
tenant's bucket, and asks fs_storage to read the runtime's secret from the
environment."""

import contextlib
import re

import pytest
import requests
from botocore.exceptions import ClientError
from odoo.addons.ipai_tenant_engine.provisioning import object_store_admin, tenant_db
from odoo.addons.ipai_tenant_runtime import attachment_storage, credentials, object_store

from .support import (
    connect_as,
    provision,
    query,
    run_code,
    runtime_nodes,
    temporary_plan,
    tenant_login,
    tenant_row,
)

OWN, OTHER = "files-own", "files-other"


class AsRole:
    """The tenant database as the tenant's own role, as the engine's
    runtime_access hands it to tenant_db's functions."""

    def __init__(self, role):
        self.role = role

    @contextlib.contextmanager
    def connect(self, dbname):
        conn = connect_as(dbname, self.role, credentials.role_password(self.role))
        try:
            with conn:  # commits on success
                yield conn
        finally:
            conn.close()


@pytest.fixture(scope="module")
def files_plan(admin_rpc):
    with temporary_plan(admin_rpc, "files", "Files off the node", "fs_attachment") as code:
        yield code


@pytest.fixture(scope="module")
def stores(cli, platform_db, tenant_server, files_plan, s3_server):
    """Both tenants provisioned on the plan, each with its bucket configured
    as its attachments' default storage: {code: (database, bucket)}."""
    made = {}
    try:
        for code in (OWN, OTHER):
            provision(cli, code, "--plan", files_plan)
            _state, database, _owner = tenant_row(platform_db, code)
            [(role,)] = query(
                platform_db, "SELECT runtime_role FROM ipai_tenant WHERE code = %s", [code]
            )
            bucket = object_store.bucket_name("ipai", database)
            made[code] = (database, bucket)
            key = object_store_admin.ensure_tenant_store(s3_server.admin, bucket)
            tenant_db.configure_attachment_storage(
                AsRole(role),
                database,
                attachment_storage.TENANT_STORAGE_CODE,
                bucket,
                attachment_storage.sealed_options(database, s3_server.url, *key),
                attachment_storage.SEALED_OPTIONS_PARAMETER,
            )
        yield made
    finally:
        for _database, bucket in made.values():
            object_store_admin.remove_tenant_store(s3_server.admin, bucket)


@pytest.fixture(scope="module")
def nodes(platform_db, tenant_server, tmp_path_factory, stores):
    with runtime_nodes(platform_db, tmp_path_factory, "files-node") as started:
        yield started


def host(code):
    return f"{code}.localhost"


def upload(node, code, rpc, name, content):
    """The web client's upload: the form's CSRF token from the page, then
    a multipart POST to /web/binary/upload_attachment."""
    headers = {"Host": host(code)}
    cookies = {"session_id": rpc.session.cookies["session_id"]}
    page = requests.get(f"{node.url}/odoo", headers=headers, cookies=cookies, timeout=60)
    page.raise_for_status()
    csrf = re.search(r'csrf_token: "([0-9a-f]+o[0-9]+)"', page.text).group(1)
    partner_id = rpc.call("res.users", "read", [rpc.uid], ["partner_id"])[0]["partner_id"][0]
    response = requests.post(
        f"{node.url}/web/binary/upload_attachment",
        data={"model": "res.partner", "id": partner_id, "csrf_token": csrf},
        files={"ufile": (name, content, "application/octet-stream")},
        headers=headers,
        cookies=cookies,
        timeout=60,
    )
    response.raise_for_status()
    [answer] = response.json()
    assert "error" not in answer, answer
    return answer["id"]


def download(node, code, rpc, attachment_id):
    response = requests.get(
        f"{node.url}/web/content/{attachment_id}?download=true",
        headers={"Host": host(code)},
        cookies={"session_id": rpc.session.cookies["session_id"]},
        timeout=60,
    )
    response.raise_for_status()
    return response.content


def bucket_keys(s3_server, bucket):
    s3 = object_store_admin.client("s3", *s3_server.admin)
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_an_attachment_uploaded_on_one_node_is_downloaded_on_another(
    stores, nodes, credentials_dir, s3_server
):
    node_a, node_b = nodes
    database, bucket = stores[OWN]
    content = b"%PDF-1.4 a contract, uploaded through node A\n" + bytes(range(256)) * 64
    rpc = tenant_login(node_a, OWN, credentials_dir)
    attachment_id = upload(node_a, OWN, rpc, "contract.bin", content)
    [stored] = rpc.call("ir.attachment", "read", [attachment_id], ["store_fname", "file_size"])
    assert stored["file_size"] == len(content)
    # In the tenant's bucket, named by fs_attachment's storage code ...
    assert stored["store_fname"].startswith(f"{attachment_storage.TENANT_STORAGE_CODE}://")
    assert stored["store_fname"].split("://", 1)[1] in bucket_keys(s3_server, bucket)
    # ... and on no node's disk.
    for node in nodes:
        filestore = node.data_dir / "filestore" / database
        on_disk = [p for p in filestore.rglob("*") if p.is_file()] if filestore.exists() else []
        assert not any(p.stat().st_size == len(content) for p in on_disk), on_disk
    assert download(node_b, OWN, rpc, attachment_id) == content
    # The other tenant's bucket got nothing of it.
    object_key = stored["store_fname"].split("://", 1)[1]
    assert object_key not in bucket_keys(s3_server, stores[OTHER][1])


# Run by OTHER's admin as a server action: its own storage's filesystem,
# the key inside it, written where the admin can read it back.
READ_OWN_KEY = """
storage = env["fs.storage"].search([("code", "=", "%s")])
inner = storage.fs.fs
env["res.partner"].create({"name": "stolen " + inner.key + " " + inner.secret})
"""

# And a storage of its own (made through the web client: fs_storage refuses
# creating one from a server action) asking for an environment variable,
# read back through its filesystem.
LEAKY_STORAGE = {
    "name": "leak",
    "code": "leak",
    "protocol": "memory",
    "eval_options_from_env": True,
    "options": '{"leak": "$IPAI_RUNTIME_SECRET"}',
}
READ_RUNTIME_SECRET = """
storage = env["fs.storage"].search([("code", "=", "leak")])
env["res.partner"].create({"name": "leaked " + str(storage.fs.storage_options.get("leak"))})
"""


def written(rpc, prefix):
    rows = rpc.call("res.partner", "search_read", [("name", "=like", prefix + " %")], ["name"])
    return [row["name"][len(prefix) + 1 :] for row in rows]


def test_a_tenant_admin_with_its_own_key_reaches_no_other_bucket(
    stores, nodes, credentials_dir, s3_server
):
    node_a, node_b = nodes
    own_bucket, other_bucket = stores[OWN][1], stores[OTHER][1]
    victim = tenant_login(node_a, OWN, credentials_dir)
    victim_file = upload(node_a, OWN, victim, "payroll.csv", b"name,salary\nalice,100\n")
    before = bucket_keys(s3_server, own_bucket)
    attacker = tenant_login(node_b, OTHER, credentials_dir)
    # The stored options hold no key: the admin reads "{}".
    [storage] = attacker.call(
        "fs.storage",
        "search_read",
        [("code", "=", attachment_storage.TENANT_STORAGE_CODE)],
        ["options"],
    )
    assert storage["options"] in ("{}", False), storage
    # But its server action reaches the key the runtime unsealed for it.
    run_code(attacker, READ_OWN_KEY % attachment_storage.TENANT_STORAGE_CODE)
    [found] = written(attacker, "stolen")
    access_key, secret = found.split(" ")
    stolen = object_store_admin.client("s3", s3_server.url, access_key, secret)
    assert stolen.list_objects_v2(Bucket=other_bucket)["KeyCount"] >= 0  # its own: it works
    for call, kwargs in (
        (stolen.list_objects_v2, {"Bucket": own_bucket}),
        (stolen.get_object, {"Bucket": own_bucket, "Key": before[0]}),
        (stolen.put_object, {"Bucket": own_bucket, "Key": before[0], "Body": b"x"}),
        (stolen.delete_object, {"Bucket": own_bucket, "Key": before[0]}),
        (stolen.list_buckets, {}),
    ):
        with pytest.raises(ClientError) as error:
            call(**kwargs)
        assert error.value.response["Error"]["Code"] == "AccessDenied"
    # Its own database's sealed token planted in the victim's place would be
    # unreadable there; the victim's file is intact and still served.
    assert bucket_keys(s3_server, own_bucket) == before
    assert download(node_b, OWN, victim, victim_file) == b"name,salary\nalice,100\n"


def test_a_tenant_admin_cannot_read_the_runtime_secret_through_fs_storage(
    stores, nodes, credentials_dir
):
    attacker = tenant_login(nodes[0], OTHER, credentials_dir)
    attacker.call("fs.storage", "create", LEAKY_STORAGE)
    run_code(attacker, READ_RUNTIME_SECRET)
    [leaked] = written(attacker, "leaked")
    assert leaked == "$IPAI_RUNTIME_SECRET"


def test_a_sealed_key_opens_nothing_in_another_database(stores, nodes, credentials_dir):
    """OWN's token, planted by OTHER's admin in its own parameters: the
    runtime opens it with OTHER's key, gets nothing, and OTHER's files are
    refused rather than served from OWN's bucket."""
    own_db, other_db = stores[OWN][0], stores[OTHER][0]
    token = attachment_storage.sealed_options(own_db, "http://127.0.0.1:1", "k", "s")
    assert attachment_storage.opened_options(own_db, token) is not None
    assert attachment_storage.opened_options(other_db, token) is None
