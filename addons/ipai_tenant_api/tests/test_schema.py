"""The declaration layer on its own: what a declared body or parameter
accepts, what it refuses with which status, and that the JSON Schema it
documents accepts and refuses the same requests."""

from jsonschema import Draft202012Validator
from odoo.tests import BaseCase

from ..controllers import shapes
from ..controllers.schema import (
    MALFORMED,
    REFUSED,
    Array,
    Integer,
    Invalid,
    Object,
    Param,
    String,
)


class TestBodies(BaseCase):
    def assertInvalid(self, shape, value, status, field=None):
        with self.assertRaises(Invalid) as caught:
            shape.parse(value, "body")
        self.assertEqual((caught.exception.status, caught.exception.field), (status, field))
        return caught.exception

    def test_a_valid_body_gets_the_declared_defaults(self):
        parsed = shapes.TENANT_CREATE.parse({"code": "acme", "name": None}, "body")
        self.assertEqual(parsed, {"code": "acme", "plan": "trial", "type": "client"})
        clone = shapes.CLONE_REQUEST.parse({"code": "acme-copy"}, "body")
        self.assertEqual(clone, {"code": "acme-copy", "with_data": False})

    def test_malformed_bodies_are_400(self):
        create = shapes.TENANT_CREATE
        error = self.assertInvalid(create, {"code": "acme", "colour": "red"}, MALFORMED)
        self.assertIn("colour", error.detail)
        self.assertInvalid(create, {"code": 42}, MALFORMED, "code")
        self.assertInvalid(create, ["code"], MALFORMED, "body")
        self.assertInvalid(
            shapes.CLONE_REQUEST, {"code": "a-b", "with_data": 1}, MALFORMED, "with_data"
        )
        change = shapes.TENANT_CHANGE
        self.assertInvalid(change, {"domains": ["ok.example", 7]}, MALFORMED, "domains")
        self.assertInvalid(change, {"domains": "ok.example"}, MALFORMED, "domains")
        error = self.assertInvalid(change, {"name": None}, MALFORMED)
        self.assertEqual(error.detail, "Send at least one of name, plan, domains.")

    def test_refused_values_are_422_and_name_their_field(self):
        create = shapes.TENANT_CREATE
        self.assertInvalid(create, {"name": "no code"}, REFUSED, "code")
        self.assertInvalid(create, {"code": None}, REFUSED, "code")
        error = self.assertInvalid(create, {"code": "Bad_Code"}, REFUSED, "code")
        self.assertIn("lowercase letters", error.detail)  # naming's own words
        self.assertInvalid(create, {"code": "admin"}, REFUSED, "code")  # reserved
        self.assertInvalid(create, {"code": "acme", "type": "platform_owner"}, REFUSED, "type")

    def test_json_booleans_are_not_numbers(self):
        shape = Object(required={"n": Integer(minimum=0)})
        self.assertEqual(shape.parse({"n": 3}, "body"), {"n": 3})
        self.assertInvalid(shape, {"n": True}, MALFORMED, "n")
        self.assertInvalid(shape, {"n": -1}, REFUSED, "n")

    def test_the_document_accepts_what_the_parser_accepts(self):
        """The same requests against the parser and, with a real JSON Schema
        validator, against the schema the document publishes: both accept
        or both refuse (null fields aside: the parser takes them as absent)."""
        samples = [
            (shapes.TENANT_CREATE, {"code": "acme"}),
            (shapes.TENANT_CREATE, {"code": "acme", "type": "provider", "country": "BE"}),
            (shapes.TENANT_CREATE, {"code": "acme", "colour": "red"}),
            (shapes.TENANT_CREATE, {"code": 42}),
            (shapes.TENANT_CREATE, {"name": "no code"}),
            (shapes.TENANT_CREATE, {"code": "Bad_Code"}),
            (shapes.TENANT_CREATE, {"code": "acme", "type": "platform_owner"}),
            (shapes.TENANT_CHANGE, {}),
            (shapes.TENANT_CHANGE, {"domains": ["a.example"]}),
            (shapes.TENANT_CHANGE, {"domains": [1]}),
            (shapes.CLONE_REQUEST, {"code": "acme-copy", "with_data": True}),
            (shapes.CLONE_REQUEST, {"code": "acme-copy", "with_data": "yes"}),
        ]
        for shape, body in samples:
            with self.subTest(body=body):
                schema = shape.target.document()
                documented = Draft202012Validator(schema).is_valid(body)
                try:
                    shape.parse(body, "body")
                    parsed = True
                except Invalid:
                    parsed = False
                self.assertEqual(parsed, documented)


class TestParams(BaseCase):
    def parse(self, params, **texts):
        return {param.name: param.parse(texts.get(param.name)) for param in params}

    def test_query_parameters_get_defaults_and_types(self):
        values = self.parse(shapes.TENANT_FILTERS, limit="20", state="")
        self.assertEqual(values["limit"], 20)
        self.assertEqual(values["offset"], 0)
        self.assertIsNone(values["state"])  # empty: no filter

    def test_bad_parameters_are_400(self):
        for texts in (
            {"limit": "abc"},
            {"limit": "0"},
            {"limit": "201"},
            {"offset": "-1"},
            {"state": "sleeping"},
            {"type": "robot"},
        ):
            with self.subTest(texts=texts), self.assertRaises(Invalid) as caught:
                self.parse(shapes.TENANT_FILTERS, **texts)
            self.assertEqual(caught.exception.status, MALFORMED)
        key = shapes.IDEMPOTENCY_KEY
        with self.assertRaises(Invalid) as caught:
            key.parse("")  # an empty header is sent, not absent
        self.assertEqual(caught.exception.status, MALFORMED)
        with self.assertRaises(Invalid):
            key.parse("k" * (shapes.IDEMPOTENCY_KEY_MAX + 1))
        self.assertEqual(key.parse("signup-acme"), "signup-acme")
        self.assertIsNone(key.parse(None))

    def test_a_required_parameter_must_be_sent(self):
        param = Param("page", "query", Integer(), required=True)
        with self.assertRaises(Invalid):
            param.parse("")
        self.assertEqual(param.parse("3"), 3)


class TestDocuments(BaseCase):
    def test_shapes_document_themselves_as_json_schema(self):
        self.assertEqual(String(nullable=True).document(), {"type": ["string", "null"]})
        self.assertEqual(
            Array(items=String(), description="Names.").document(),
            {"type": "array", "items": {"type": "string"}, "description": "Names."},
        )
        self.assertEqual(
            Object(required={"a": Integer(default=1)}, optional={"b": String()}).document(),
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["a"],
                "properties": {"a": {"type": "integer", "default": 1}, "b": {"type": "string"}},
            },
        )
        accepted = shapes.ACCEPTED.target.document()
        self.assertEqual(
            accepted["properties"]["job"],
            {"oneOf": [{"$ref": "#/components/schemas/Job"}, {"type": "null"}]},
        )

    def test_every_component_is_a_valid_json_schema(self):
        for name, shape in shapes.COMPONENTS.items():
            with self.subTest(name=name):
                Draft202012Validator.check_schema(shape.document())
