"""One JSON error shape for every 4xx/5xx under ``/api/``.

::

    {"error": {"status": 400, "code": "invalid", "message": "…",
               "fields": [{"field": "results[0].obligation", "message": "…"}]}}

``fields`` is always present (empty when the error is not about an input).
DRF validation errors, ``DomainError`` (its ``status_code``, ``code`` and
``field``), authentication and permission refusals, throttling (with
``Retry-After``) and Django's own 404/500 pages under ``/api/`` all use it.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from atoc.core.exceptions import DomainError
from atoc.core.validation import as_domain_error

NON_FIELD_KEYS = ("non_field_errors", "__all__")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request cannot be processed."
    default_code = "unprocessable"


def error_body(
    *, status_code: int, code: str, message: str, fields: list[dict] | None = None
) -> dict:
    """The error document every API error answers with."""
    return {
        "error": {
            "status": status_code,
            "code": code,
            "message": message,
            "fields": fields or [],
        }
    }


def error_response(
    *, status_code: int, code: str, message: str, fields: list[dict] | None = None
) -> JsonResponse:
    """A plain Django ``JsonResponse`` with the error document (outside DRF views)."""
    return JsonResponse(
        error_body(status_code=status_code, code=code, message=message, fields=fields),
        status=status_code,
    )


def flatten_detail(detail, path: str = "") -> list[dict]:
    """Turn DRF's nested error detail into ``[{"field": "results[0].value", …}]``."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            child = path if key in NON_FIELD_KEYS else _join(path, key)
            out.extend(flatten_detail(value, child))
        return out
    if isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail | str) for item in detail):
            return [_field_error(path, item) for item in detail]
        out = []
        for index, item in enumerate(detail):
            if item in ({}, [], None):
                continue
            out.extend(flatten_detail(item, f"{path}[{index}]"))
        return out
    return [_field_error(path, detail)]


def _join(path: str, key) -> str:
    if isinstance(key, int):  # DRF reports list items as {index: errors}
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _field_error(path: str, item) -> dict:
    code = getattr(item, "code", None) or "invalid"
    return {"field": path or None, "message": str(item), "code": code}


def _first_code(detail, default: str) -> str:
    codes = [f["code"] for f in flatten_detail(detail)]
    return codes[0] if len(set(codes)) == 1 and codes[0] else default


def api_exception_handler(exc, context):
    """DRF's ``EXCEPTION_HANDLER``: every handled error gets the one error shape.

    Unexpected exceptions are left to Django (a 500, answered in JSON under ``/api/``
    by :func:`atoc.core.api.views.server_error`).
    """
    if isinstance(exc, DomainError):
        fields = [{"field": exc.field, "message": exc.message, "code": exc.code}]
        body = error_body(
            status_code=exc.status_code,
            code=exc.code,
            message=exc.message,
            fields=fields if exc.field else [],
        )
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = as_domain_error(exc)
        return api_exception_handler(exc, context)
    if isinstance(exc, RequestDataTooBig):
        # DRF reads request.body, where Django enforces DATA_UPLOAD_MAX_MEMORY_SIZE.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_detail(exc.detail)
        if len(fields) == 1:
            message = (
                f"{fields[0]['field']}: {fields[0]['message']}"
                if fields[0]["field"]
                else fields[0]["message"]
            )
        else:
            message = "The request has invalid fields."
        code = _first_code(exc.detail, "invalid")
        code = "invalid" if code in ("required", "null", "blank") and len(fields) > 1 else code
        response.data = error_body(
            status_code=response.status_code, code=code, message=message, fields=fields
        )
        return response
    detail = getattr(exc, "detail", None)
    if isinstance(detail, dict | list):
        message = "; ".join(f["message"] for f in flatten_detail(detail))
        code = _first_code(detail, getattr(exc, "default_code", "error"))
    else:
        message = str(detail) if detail is not None else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        message = f"Too many requests; retry in {int(exc.wait) + 1} seconds."
    response.data = error_body(status_code=response.status_code, code=code, message=message)
    return response
