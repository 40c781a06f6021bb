"""Scopes: what each action needs, what each caller holds, and the team restriction.

A view declares the scope of each action in ``required_scopes``, keyed by the
viewset action (``list``, ``create``, ``acknowledge``…) or by HTTP method::

    class IncidentViewSet(viewsets.GenericViewSet):
        required_scopes = {"acknowledge": ApiScope.SIGNALS_WRITE}

Anything not declared needs ``read`` for GET/HEAD/OPTIONS and ``admin`` for every
other method, so a forgotten declaration fails closed.
"""

from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework import permissions

from atoc.core.models import ApiKey, ApiScope

ALL_SCOPES = frozenset(ApiScope.values)


def granted_scopes(request) -> frozenset[str]:
    """The scopes the caller holds: the key's, or for a session those its role allows.

    A logged-in staff user holds a scope when they have every permission that
    ``ATOC_API_SESSION_SCOPE_PERMISSIONS`` lists for it, so the API allows a person
    what the admin allows them (a viewer reads, an operator acts on incidents).
    """
    api_key = request_api_key(request)
    if api_key is not None:
        return ALL_SCOPES if ApiScope.ADMIN in api_key.scopes else frozenset(api_key.scopes)
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return frozenset()
    if user.is_superuser:
        return ALL_SCOPES
    cached = getattr(request, "_atoc_session_scopes", None)
    if cached is None:
        cached = frozenset(
            scope
            for scope, needed in settings.ATOC_API_SESSION_SCOPE_PERMISSIONS.items()
            if user.has_perms(needed)
        )
        request._atoc_session_scopes = cached
    return cached


def required_scope(request, view) -> str:
    """The scope the current action of ``view`` needs (see the module docstring)."""
    declared = getattr(view, "required_scopes", {}) or {}
    action = getattr(view, "action", None)
    if action and action in declared:
        return declared[action]
    if request.method in declared:
        return declared[request.method]
    if request.method in permissions.SAFE_METHODS:
        return ApiScope.READ
    return ApiScope.ADMIN


class HasScope(permissions.BasePermission):
    """Authenticated, and holding the scope the action needs (``admin`` implies all)."""

    message = "Your credentials do not grant this action."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        scope = required_scope(request, view)
        if scope in granted_scopes(request):
            return True
        self.message = f"This action needs the '{scope}' scope."
        return False


def request_api_key(request) -> ApiKey | None:
    """The API key the request was made with, or None (session or anonymous)."""
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiKey) else None


def allowed_team_ids(request) -> frozenset[int] | None:
    """Ids of the teams the caller may see and act on; None when unrestricted.

    A key's teams (none: the whole fleet), or for a session the user's team scope
    (``ATOC_API_SESSION_TEAM_SCOPE``). Loaded once per request.
    """
    cached = getattr(request, "_atoc_team_ids", False)
    if cached is not False:
        return cached
    api_key = request_api_key(request)
    if api_key is not None:
        cached = frozenset(api_key.teams.values_list("pk", flat=True)) or None
    else:
        user = getattr(request, "user", None)
        cached = None
        if user is not None and user.is_authenticated:
            cached = import_string(settings.ATOC_API_SESSION_TEAM_SCOPE)(user)
    request._atoc_team_ids = cached
    return cached


def restrict_to_teams(queryset, request, *, team_field: str = "team"):
    """Narrow ``queryset`` to the caller's teams (``team_field`` leads to the team)."""
    ids = allowed_team_ids(request)
    if ids is None:
        return queryset
    return queryset.filter(**{f"{team_field}__in": ids})


def team_allowed(request, team_id: int | None) -> bool:
    """Whether the caller may see or write objects of the team with this id."""
    ids = allowed_team_ids(request)
    return ids is None or team_id in ids
