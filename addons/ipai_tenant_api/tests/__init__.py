from . import test_openapi_document, test_schema, test_serializers
