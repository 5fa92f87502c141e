"""The OpenAPI document as openapi.py writes it from the declarations:
valid OpenAPI 3.1, one operation per declared route, and each operation's
answers following from what it declares."""

from odoo.tests import BaseCase
from openapi_spec_validator import validate

from ..controllers import openapi
from ..controllers.api import OPERATIONS


class TestOpenApiDocument(BaseCase):
    def test_the_document_is_valid_openapi_3_1(self):
        document = openapi.document()
        validate(document)
        self.assertEqual(document["openapi"], "3.1.0")
        self.assertEqual(
            {(path, method) for path, item in document["paths"].items() for method in item},
            set(OPERATIONS),
        )

    def test_answers_follow_the_declaration(self):
        paths = openapi.document()["paths"]
        listing = paths["/tenants"]["get"]
        # Query parameters are checked, so a bad one is a documented 400.
        self.assertIn("400", listing["responses"])
        self.assertEqual(
            [p["name"] for p in listing["parameters"]],
            ["state", "type", "plan", "parent", "q", "limit", "offset"],
        )
        create = paths["/tenants"]["post"]
        self.assertLessEqual(
            {"202", "400", "401", "403", "409", "422", "429"}, set(create["responses"])
        )
        self.assertEqual(
            create["requestBody"]["content"]["application/json"]["schema"],
            {"$ref": "#/components/schemas/TenantCreate"},
        )
        self.assertIn("Retry-After", create["responses"]["429"]["headers"])
        # A route's variables are its documented path parameters.
        job = paths["/jobs/{job_id}"]["get"]
        self.assertEqual(job["parameters"][0]["schema"], {"type": "integer"})
        suspend = paths["/tenants/{code}/suspend"]["post"]
        self.assertNotIn("400", suspend["responses"])  # takes no body, checks nothing
        self.assertIn("200", paths["/tenants/{code}/archive"]["post"]["responses"])

    def test_job_types_are_the_engines_and_data_safetys(self):
        from odoo.addons.ipai_tenant_data_safety.models import ipai_tenant_job as data_safety
        from odoo.addons.ipai_tenant_engine.models import ipai_tenant_job as engine

        job = openapi.document()["components"]["schemas"]["Job"]
        self.assertEqual(
            job["properties"]["type"]["enum"],
            [key for key, _label in engine.JOB_TYPES + data_safety.JOB_TYPES],
        )
