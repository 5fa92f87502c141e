from . import (
    test_ast_guard,
    test_connections,
    test_credentials,
    test_gates,
    test_http_routing,
    test_module_gate,
    test_patching,
    test_preload,
    test_registry_guard,
    test_routing_map,
)
