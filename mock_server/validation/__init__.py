"""A request checked as the contract says: its credentials, its body's envelope, its fields against the schemas.

The mock answers with the first problem these find (`KlingError`); the journal's verdicts collect them all.
"""

from .auth import JWT_ALGORITHM, BearerAuth
from .body import body_too_large, check_media_type, natural_number, parse_json
from .schema import body_findings, parameter_findings, validate_body, validate_parameters

__all__ = [
    "JWT_ALGORITHM",
    "BearerAuth",
    "body_findings",
    "body_too_large",
    "check_media_type",
    "natural_number",
    "parameter_findings",
    "parse_json",
    "validate_body",
    "validate_parameters",
]
