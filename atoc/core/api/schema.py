"""OpenAPI pieces: the error document, default error responses, the Bearer scheme.

``AtocAutoSchema`` (the default schema class) adds the error responses every
endpoint can give — 400, 401, 403, 404 and 429, plus 409, 413 and 415 for writes
and 409/422 with the ``Idempotency-Key`` header for handlers decorated with
:func:`atoc.core.api.idempotency.idempotent` — so views only document what is
particular to them. ``error_responses(...)`` builds the same entries for an
explicit ``@extend_schema(responses=...)``.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .idempotency import KEY_PATTERN, is_idempotent
from .permissions import HasScope

ERROR_DESCRIPTIONS = {
    400: "Invalid input; `fields` names each wrong field and the problem.",
    401: "No credentials, or an unknown, revoked or expired API key.",
    403: "The credentials do not grant the scope this action needs.",
    404: "Not found (or not visible to a team-restricted key).",
    409: "Conflicts with the current state (an impossible transition, or the same "
    "Idempotency-Key still in flight).",
    413: "The request body is too large.",
    415: "Only application/json bodies are accepted.",
    422: "This Idempotency-Key was already used for a different request.",
    429: "Too many requests; see the Retry-After header.",
}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ErrorFieldSerializer(serializers.Serializer):
    field = serializers.CharField(
        allow_null=True, help_text="Path of the wrong input, e.g. results[0].obligation."
    )
    message = serializers.CharField()
    code = serializers.CharField()


class ErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. invalid.")
    message = serializers.CharField()
    fields = ErrorFieldSerializer(many=True)


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx/5xx answer under /api/."""

    error = ErrorDetailSerializer()


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """``{code: OpenApiResponse(ErrorSerializer)}`` for ``@extend_schema(responses=…)``."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS.get(code, "Error"))
        for code in codes
    }


IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    type={"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN},
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Makes the POST safe to retry: the same key and body replays the first response "
        "(with `Idempotent-Replayed: true`); a different body is 422; while the first "
        "request is still running, 409. 1 to 255 visible ASCII characters (no spaces)."
    ),
)


class AtocAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the kernel's error responses and header."""

    def _handler(self):
        action = getattr(self.view, "action", None)
        return getattr(self.view, action or self.method.lower(), None)

    def _is_protected(self) -> bool:
        return any(isinstance(p, HasScope) for p in self.view.get_permissions())

    def get_override_parameters(self):
        params = list(super().get_override_parameters())
        if self.method == "POST" and is_idempotent(self._handler()):
            params.append(IDEMPOTENCY_PARAMETER)
        return params

    def _error_codes(self) -> list[int]:
        codes = [429]
        if self._is_protected():
            codes += [400, 401, 403, 404]
        if self.method in WRITE_METHODS:
            codes += [400, 404, 409, 413, 415]
            if self.method == "POST" and is_idempotent(self._handler()):
                codes += [422]
        return sorted(set(codes))

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            key = str(code)
            if key in responses:
                continue
            response = self._get_response_for_code(
                OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]),
                key,
                direction=direction,
            )
            if code == 429:
                response["headers"] = {
                    "Retry-After": {
                        "schema": {"type": "integer"},
                        "description": "Seconds to wait before retrying.",
                    }
                }
            if code == 401:
                response["headers"] = {
                    "WWW-Authenticate": {
                        "schema": {"type": "string"},
                        "description": 'The scheme to use: `Bearer realm="api"`.',
                    }
                }
            responses[key] = response
        return responses


NO_NUL_PATTERN = r"^[^\x00]*$"


def postprocess_strict_strings(result, generator, request, public):
    """Document what input strings may not hold: a NUL character (PostgreSQL cannot store it).

    Adds ``NO_NUL_PATTERN`` to every request-body and query string that has no
    pattern, format or enum of its own. Listed in ``POSTPROCESSING_HOOKS``.
    """
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            _no_nul(component)
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    _no_nul(parameter.get("schema", {}))
    return result


def _no_nul(schema) -> None:
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and not {"pattern", "format", "enum"} & set(schema):
        schema["pattern"] = NO_NUL_PATTERN
    for key in ("properties",):
        for child in schema.get(key, {}).values():
            _no_nul(child)
    for key in ("items", "additionalProperties"):
        _no_nul(schema.get(key))
    for key in ("oneOf", "anyOf", "allOf"):
        for child in schema.get(key, []):
            _no_nul(child)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents ``Authorization: Bearer <key>`` as an HTTP bearer scheme."""

    target_class = "atoc.core.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "atoc_<prefix>_<secret>",
            "description": "An API key created with `manage.py create_api_key`.",
        }


__all__ = [
    "IDEMPOTENCY_PARAMETER",
    "ApiKeyAuthenticationScheme",
    "AtocAutoSchema",
    "ErrorSerializer",
    "error_responses",
    "postprocess_strict_strings",
]
