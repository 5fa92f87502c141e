"""The serializers answer in the shapes the document declares: real
records, checked with a JSON Schema validator against the components."""

from unittest.mock import patch

from jsonschema import Draft202012Validator
from odoo.addons.ipai_tenant_core.tests.common import TenantCase
from odoo.tests import tagged

from ..controllers import openapi, serializers


@tagged("post_install", "-at_install")
class TestSerializers(TenantCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # url() reads the request's host; there is no request here.
        patcher = patch.object(serializers, "url", lambda path: f"http://api.test/api/v1{path}")
        patcher.start()
        cls.addClassCleanup(patcher.stop)

    def assertShape(self, value, component):
        components = openapi.document()["components"]
        schema = {"$ref": f"#/components/schemas/{component}", "components": components}
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        validator.validate(value)

    def test_a_tenant_its_job_and_the_accepted_answer(self):
        tenant = self.make_tenant("api-shape", admin_email="boss@shape.test")
        tenant.action_provision()
        self.assertShape(serializers.tenant_json(tenant), "Tenant")
        self.assertShape(serializers.job_json(tenant.job_ids), "Job")
        self.assertShape(serializers.accepted_json(tenant, tenant.job_ids), "Accepted")
        self.assertShape(serializers.accepted_json(tenant, tenant.job_ids.browse()), "Accepted")

    def test_every_plan_with_one_definition_of_its_features(self):
        for plan in self.env["ipai.tenant.plan"].search([]):
            answer = serializers.plan_json(plan)
            self.assertShape(answer, "Plan")
            self.assertEqual(answer["features"], plan._features())
        tenant = self.make_tenant("api-features", plan_id=self.plan_provider.id)
        self.assertEqual(tenant._tenant_side_config()["features"], self.plan_provider._features())
        self.assertTrue(self.plan_provider._features()["sub_tenants"])
