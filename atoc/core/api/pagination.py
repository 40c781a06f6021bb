"""Cursor pagination with an explicit, unique ordering and a strict page size.

DRF's ``CursorPagination`` orders by ``-created`` unless told otherwise, which is a
500 on any model without that column. Here the ordering defaults to ``-id`` and a
view may set ``cursor_ordering`` to another unique, indexed column (``"slug"``).
A ``page_size`` that is not an integer from 1 to 500 is refused (400) rather
than silently replaced.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """``?cursor=…&page_size=…``; the answer is ``{next, previous, results}``."""

    ordering = ("-id",)
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        # A cursor is opaque but not signed: one edited to hold a position the ordering
        # column cannot take ("abc" for an id) is as invalid as one that does not decode.
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, TypeError, OverflowError, DjangoValidationError):
            raise NotFound(self.invalid_cursor_message) from None

    def get_ordering(self, request, queryset, view):
        ordering = getattr(view, "cursor_ordering", None) or self.ordering
        return (ordering,) if isinstance(ordering, str) else tuple(ordering)

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"Use an integer from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update({"minimum": 1, "maximum": self.max_page_size})
                parameter["description"] = f"Rows per page (default {self.page_size})."
            elif parameter["name"] == self.cursor_query_param:
                parameter["description"] = "Opaque cursor from a previous page's next/previous."
        return parameters
