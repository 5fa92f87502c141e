import unittest
import uuid

from odoo.tests import TransactionCase, new_test_user

from ..superset_api import client


class BiCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if "ipai.bi.dashboard" not in cls.env:
            # pytest-odoo collects every addon's tests; this one's need it installed.
            raise unittest.SkipTest("ipai_bi_superset_embed is not installed in this database")
        client.clear_caches()
        cls.params = cls.env["ir.config_parameter"].sudo()
        cls.params.set_param("ipai_tenant.code", "acme")
        # Not configured: a test that reaches Superset by mistake fails loudly.
        for key in ("superset_url", "public_url", "username", "password", "workspace"):
            cls.params.set_param(f"ipai_bi_superset_embed.{key}", False)
        cls.managers = cls.env["res.groups"].create({"name": "BI test managers"})
        cls.manager = new_test_user(cls.env, login="bi_manager", groups="base.group_user")
        cls.manager.groups_id += cls.managers
        cls.employee = new_test_user(cls.env, login="bi_employee", groups="base.group_user")
        cls.dashboard = cls.env["ipai.bi.dashboard"].create(
            {
                "name": "Margins",
                "embedded_uuid": str(uuid.uuid4()),
                "group_ids": [(6, 0, cls.managers.ids)],
            }
        )

    def tearDown(self):
        client.clear_caches()
        super().tearDown()
