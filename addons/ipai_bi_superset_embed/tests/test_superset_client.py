import base64
import json
import time

from odoo.tests import BaseCase, tagged

from ..superset_api import client


def fake_jwt(exp):
    payload = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).rstrip(b"=")
    return f"eyJhbGciOiJIUzI1NiJ9.{payload.decode()}.c2ln"


@tagged("post_install", "-at_install")
class TestSupersetClient(BaseCase):
    def tearDown(self):
        client.clear_caches()
        super().tearDown()

    def test_jwt_expiry_is_read_from_the_token(self):
        self.assertEqual(client.jwt_expiry(fake_jwt(1234)), 1234)
        with self.assertRaises(client.SupersetRefused):
            client.jwt_expiry("not-a-jwt")

    def test_cache_entries_expire(self):
        cache = client.ExpiringCache()
        cache.put("k", "v", time.time() + 60)
        self.assertEqual(cache.get("k"), "v")
        self.assertIsNone(cache.get("k", now=time.time() + 61))
