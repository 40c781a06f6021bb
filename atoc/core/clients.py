"""The address of the client a request comes from, as the proxies in front saw it."""

from django.conf import settings


def client_ip(request) -> str | None:
    """The client's address: the connection's, or with ``ATOC_TRUSTED_PROXIES`` proxies in
    front, the address the outermost of them recorded in ``X-Forwarded-For``.

    Entries a client put in the header itself come before the proxies' and are
    ignored, so a client cannot choose the address it is counted under (the API's
    anonymous rate limit and the admin's login lockout).
    """
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies and forwarded:
        addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
        if addresses:
            return addresses[-min(proxies, len(addresses))]
    return request.META.get("REMOTE_ADDR")
