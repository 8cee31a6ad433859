"""The contract as the spec states it: the OpenAPI documents loaded, bundled and compiled once.

The mock holds no copy of the contract's rules: routes, media types, body limits, request schemas and the
business-code table all come from here, so that editing the spec is enough to change the mock and the suite.
"""

from .bundle import SpecBundleError
from .document import (
    ADMIN_SPEC_PATH,
    BY_BODY,
    BY_BODY_SPEC_PATH,
    DEFAULT_SPEC_PATH,
    DIALECT_BY_PREFIX,
    DIALECTS,
    DOCUMENTED,
    HTTP_METHODS,
    PREFIXES,
    UPSTREAM,
    UPSTREAM_SPEC_PATH,
    Operation,
    Spec,
    SpecProblem,
    business_code_table,
    dialect_spec,
    json_pointer,
    load_spec,
    resolve_response,
    schema_node,
    views,
)

__all__ = [
    "ADMIN_SPEC_PATH",
    "BY_BODY",
    "BY_BODY_SPEC_PATH",
    "DEFAULT_SPEC_PATH",
    "DIALECTS",
    "DIALECT_BY_PREFIX",
    "DOCUMENTED",
    "HTTP_METHODS",
    "PREFIXES",
    "UPSTREAM",
    "UPSTREAM_SPEC_PATH",
    "Operation",
    "Spec",
    "SpecBundleError",
    "SpecProblem",
    "business_code_table",
    "dialect_spec",
    "json_pointer",
    "load_spec",
    "resolve_response",
    "schema_node",
    "views",
]
