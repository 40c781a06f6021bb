"""Who may act on what: role permissions and the team scope of operators.

Services of the center call :func:`authorize` before writing; the admin also uses
:func:`scope_team_ids` to hold back actions on rows outside an operator's teams.
The system account (jobs, the demo) acts fleet-wide.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

from atoc.center.exceptions import NotPermitted, OutOfScope
from atoc.center.models import OperatorScope
from trust.models import Team


def is_system(actor) -> bool:
    return getattr(actor, "username", None) == settings.ATOC_SYSTEM_USERNAME


def scope_team_ids(actor) -> frozenset[int] | None:
    """The ids of the teams ``actor`` may act on; None when unrestricted.

    Cached on the user object for the rest of the request.
    """
    if actor is None or is_system(actor) or getattr(actor, "is_superuser", False):
        return None
    cached = getattr(actor, "_atoc_scope_team_ids", False)
    if cached is not False:
        return cached
    scope = OperatorScope.objects.filter(user_id=actor.pk).first()
    ids = None if scope is None else frozenset(scope.teams.values_list("pk", flat=True))
    actor._atoc_scope_team_ids = ids
    return ids


def authorize(actor, *, permission: str, team_ids: Iterable[int | None] = (), what: str) -> None:
    """Refuse unless ``actor`` holds ``permission`` and may act on every team named.

    ``what`` says what is being done ("restrict agent cs-refund-assistant"), so the
    refusal names the problem. ``team_ids`` are the teams of the objects touched.
    """
    if is_system(actor):
        return
    if actor is None or not actor.is_active or not actor.has_perm(permission):
        raise NotPermitted(
            f"You may not {what}: your role lacks the {permission!r} permission.",
            field="actor",
        )
    allowed = scope_team_ids(actor)
    if allowed is None:
        return
    outside = sorted({pk for pk in team_ids if pk not in allowed}, key=lambda pk: pk or 0)
    if outside:
        names = ", ".join(
            Team.objects.filter(pk__in=[pk for pk in outside if pk]).values_list("name", flat=True)
        )
        raise OutOfScope(
            f"You may not {what}: it belongs to {names or 'no team'}, outside your teams.",
            field="team",
        )


def require_fleet_wide(actor, *, permission: str, what: str) -> None:
    """Refuse unless ``actor`` holds ``permission`` and is not limited to some teams.

    Fleet-level records (systemic issues span teams) need a fleet-wide operator.
    """
    authorize(actor, permission=permission, what=what)
    if scope_team_ids(actor) is not None:
        raise OutOfScope(
            f"You may not {what}: it spans teams and you act for some teams only.",
            field="team",
        )
