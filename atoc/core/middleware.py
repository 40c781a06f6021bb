"""Answer 503 (not 500) while the database cannot be reached.

A request that loses its database — PostgreSQL restarting, a failover, the
connection limit reached — cannot have written anything: every write runs in one
transaction, which is rolled back with the connection. So the honest answer is
"unavailable, try again", and a client that retries with the same idempotency key
stores its signal once. Under ``/api/`` the answer has the API's error shape;
elsewhere it is a short plain-text page. Both carry ``Retry-After``.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse

from atoc.core.api.exceptions import error_response
from atoc.core.api.views import is_api_request

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
MESSAGE = "The database is unavailable; retry shortly with the same idempotency key."


class DatabaseUnavailableMiddleware:
    """Turn a lost or refused database connection into ``503 Service Unavailable``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning(
            "Database unavailable during %s %s: %s",
            request.method,
            request.path,
            type(exception).__name__,
        )
        # Drop the broken connection now rather than at the end of the request.
        connection.close_if_unusable_or_obsolete()
        if is_api_request(request):
            response = error_response(status_code=503, code="database_unavailable", message=MESSAGE)
        else:
            response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
