"""API plumbing shared by every app's endpoints.

* ``authentication.ApiKeyAuthentication`` — ``Authorization: Bearer <key>``;
  ``request.user`` is the key's service account, ``request.auth`` the ``ApiKey``.
* ``permissions.HasScope`` — the scope each action needs (``required_scopes`` on
  the view, by action or method; GET needs ``read``, other methods ``admin`` unless
  declared); ``permissions.restrict_to_teams`` / ``team_allowed`` apply a key's
  team restriction (invisible objects are 404).
* ``exceptions.api_exception_handler`` — one JSON error shape for every error;
  ``DomainError`` keeps its ``status_code``, ``code`` and ``field``.
* ``serializers.InputSerializer`` — base for request bodies: only the documented
  JSON types, whole-value patterns, RFC 3339 date-times, strings kept as sent.
* ``filters.StrictFilterSet`` — base for list filters: bad values are 400.
* ``pagination.IdCursorPagination`` — cursor pagination; views set ``cursor_ordering``
  to a unique, indexed column (default ``-id``).
* ``idempotency.idempotent`` — the ``Idempotency-Key`` header for POST handlers.
* ``schema`` — the error serializer, ``error_responses(...)``, and the default
  schema class that documents the error responses and the idempotency header.
"""
