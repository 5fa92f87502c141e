"""Everything the runtime derives from IPAI_RUNTIME_SECRET: role passwords,
smoke-check tokens and the per-database key of sealed values."""

import base64
import hashlib
import hmac

import pytest
from odoo.addons.ipai_tenant_runtime import credentials
from odoo.addons.ipai_tenant_runtime.tests.common import RUNTIME_SECRET, runtime


@pytest.fixture(autouse=True)
def _runtime_secret():
    with runtime(None):
        yield


def _b64(digest):
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def test_a_role_password_is_the_documented_hmac():
    """docs/architecture.md: base64url(HMAC-SHA256(cell secret, "ipai-pg-role\\0"
    + role)) without padding, the cell secret base64url(HMAC-SHA256(master,
    "ipai-cell\\0" + cell)); the control plane and the cell's nodes compute it."""
    master = RUNTIME_SECRET.encode()
    cell_secret = _b64(hmac.new(master, b"ipai-cell\0main", hashlib.sha256).digest())
    assert credentials.cell_secret("main") == cell_secret
    digest = hmac.new(cell_secret.encode(), b"ipai-pg-role\0tenant_acme__odoo", hashlib.sha256)
    expected = _b64(digest.digest())
    assert credentials.role_password("tenant_acme__odoo") == expected
    assert credentials.role_password("tenant_acme__odoo") != credentials.role_password(
        "tenant_beta__odoo"
    )
    assert "=" not in expected and len(expected) == 43


def test_a_node_derives_its_own_cells_passwords_and_no_other_cells(monkeypatch):
    """A node holds IPAI_CELL and IPAI_CELL_SECRET, never the master."""
    expected = credentials.role_password("tenant_acme__odoo", "b")
    other = credentials.role_password("tenant_acme__odoo", "c")
    monkeypatch.setenv("IPAI_CELL", "b")
    monkeypatch.setenv("IPAI_CELL_SECRET", credentials.cell_secret("b"))
    monkeypatch.delenv("IPAI_RUNTIME_SECRET")
    assert credentials.role_password("tenant_acme__odoo") == expected != other
    with pytest.raises(credentials.MissingRuntimeSecret, match="cell b's secret only"):
        credentials.role_password("tenant_acme__odoo", "c")
    with pytest.raises(credentials.MissingRuntimeSecret):
        credentials.cell_secret("c")


def test_purposes_do_not_share_a_derivation():
    assert credentials.smoke_check_token("odoo_acme") != credentials.role_password("odoo_acme")
    assert credentials.smoke_check_token("odoo_acme") != credentials.smoke_check_token("odoo_beta")


@pytest.mark.parametrize("secret", ["", "too-short"])
def test_no_derivation_without_a_long_enough_secret(secret, monkeypatch):
    monkeypatch.setenv(credentials.SECRET_VARIABLE, secret)
    with pytest.raises(credentials.MissingRuntimeSecret, match=credentials.SECRET_VARIABLE):
        credentials.role_password("tenant_acme__odoo")


def test_sealed_values_open_in_their_database_only():
    token = credentials.seal_for_database(
        "odoo_acme", url="https://bi.example.com", password="s3cret"
    )
    assert "s3cret" not in token
    assert credentials.open_for_database("odoo_acme", token) == {
        "password": "s3cret",
        "url": "https://bi.example.com",
    }
    assert credentials.open_for_database("odoo_beta", token) is None


def test_a_tampered_or_foreign_token_opens_nothing(monkeypatch):
    token = credentials.seal_for_database("odoo_acme", password="s3cret")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert credentials.open_for_database("odoo_acme", tampered) is None
    assert credentials.open_for_database("odoo_acme", "") is None
    assert credentials.open_for_database("odoo_acme", None) is None
    assert credentials.open_for_database("odoo_acme", "not a token") is None
    monkeypatch.setenv(credentials.SECRET_VARIABLE, RUNTIME_SECRET[::-1])
    assert credentials.open_for_database("odoo_acme", token) is None, "another secret"


def test_only_sealed_mappings_open():
    """A token of the right database whose plaintext is not a mapping (an
    old plain encrypt_for_database value) is not mistaken for sealed values."""
    plain = credentials.encrypt_for_database("odoo_acme", "s3cret")
    assert credentials.decrypt_for_database("odoo_acme", plain) == "s3cret"
    assert credentials.open_for_database("odoo_acme", plain) is None
    listed = credentials.encrypt_for_database("odoo_acme", '["s3cret"]')
    assert credentials.open_for_database("odoo_acme", listed) is None
