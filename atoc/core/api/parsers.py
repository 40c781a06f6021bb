"""JSON-only request parsing with a size limit.

The limit is Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``. DRF reads JSON bodies
through ``HttpRequest.body``, where Django enforces it (the exception handler
turns that into 413); the parser checks it again so the limit holds however the
stream is handed over, and turns JSON nested too deeply for Python into a 400.
"""

import io

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .exceptions import PayloadTooLarge


def body_limit() -> int | None:
    """The largest request body the API accepts, in bytes (None: no limit)."""
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class LimitedJSONParser(JSONParser):
    """``application/json`` only (strict: no NaN or Infinity), refused above the limit."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = body_limit()
        if limit is not None:
            request = (parser_context or {}).get("request")
            meta = getattr(request, "META", {}) if request is not None else {}
            try:
                declared = int(meta.get("CONTENT_LENGTH") or 0)
            except (TypeError, ValueError):
                declared = 0
            if declared > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
            if stream is not None:
                raw = stream.read(limit + 1)
                if len(raw) > limit:
                    raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
                stream = io.BytesIO(raw)
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
