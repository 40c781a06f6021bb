"""Django's error views, answering in the API's JSON error shape under ``/api/``.

DRF views already answer their own errors in JSON; these cover what happens
before a DRF view runs (an unknown URL) or outside it (an unhandled exception).
``config/urls.py`` installs them as ``handler400/403/404/500``; any other path gets
Django's normal HTML pages.
"""

from django.views import defaults

from .exceptions import error_response

API_PREFIX = "/api/"


def is_api_request(request) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request, exception):
    if is_api_request(request):
        return error_response(status_code=400, code="bad_request", message="Bad request.")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if is_api_request(request):
        return error_response(
            status_code=403, code="permission_denied", message="You may not do this."
        )
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if is_api_request(request):
        return error_response(
            status_code=404,
            code="not_found",
            message=f"No API endpoint at {request.path}.",
        )
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api_request(request):
        return error_response(
            status_code=500,
            code="server_error",
            message="The server failed to answer this request; the error was logged.",
        )
    return defaults.server_error(request)
