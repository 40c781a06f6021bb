"""Escalations endpoints: thin callers of escalations services (writes) and selectors (reads).

Scopes: reads need ``read``. Posting signals and acting on incidents (acknowledge,
decide, resolve, escalate) need ``signals:write``: that is the response workflow
of the integrations that raise signals (staff sessions hold it too). Severity
levels, controls, counterparts and routing rules are configuration and need
``admin``. A team-restricted key sees and acts on its teams' agents' signals and
incidents only (anything else is 404), and sees the counterparts and routing rules
of its teams and those serving every team.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.db.models import Q
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from atoc.core.api.idempotency import idempotent
from atoc.core.api.permissions import allowed_team_ids, restrict_to_teams, team_allowed
from atoc.core.api.schema import AtocAutoSchema
from atoc.core.exceptions import DomainError, NotFound, OutOfTeamScope
from atoc.core.models import ApiScope
from escalations import selectors
from escalations.api import hooks
from escalations.api.filters import IncidentFilter, SignalFilter
from escalations.api.serializers import (
    SLUG_PATTERN,
    ControlInputSerializer,
    ControlOutputSerializer,
    CounterpartInputSerializer,
    CounterpartOutputSerializer,
    IncidentAcknowledgeInputSerializer,
    IncidentDecideInputSerializer,
    IncidentEscalateInputSerializer,
    IncidentOutputSerializer,
    IncidentResolveInputSerializer,
    RoutingRuleInputSerializer,
    RoutingRuleOutputSerializer,
    SeverityLevelInputSerializer,
    SeverityLevelOutputSerializer,
    SignalBodySerializer,
    SignalInputSerializer,
    SignalOutputSerializer,
    SignalResultsSerializer,
)
from escalations.models import Counterpart, Incident, SeverityLevel
from escalations.services.configuration import (
    control_create,
    control_update,
    counterpart_create,
    counterpart_update,
    routing_rule_create,
    routing_rule_update,
    severity_level_create,
    severity_level_update,
)
from escalations.services.incidents import (
    incident_acknowledge,
    incident_decide,
    incident_escalate,
    incident_resolve,
)
from escalations.services.signal_input import BULK_MAX_ITEMS
from escalations.services.signals import SignalOutcome, signal_ingest, signals_ingest_bulk
from trust.models import Agent, Team

ID_REGEX = r"[0-9]+"


class BodyRequiredSchema(AtocAutoSchema):
    """Documents the request body as required (a one-or-list body has no required fields)."""

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body:
            body["required"] = True
        return body


_SLUG = re.compile(SLUG_PATTERN)


class EscalationsViewSet(viewsets.GenericViewSet):
    """Shared behaviour: query filters apply to lists only (a detail URL ignores them)."""

    lookup_value_regex = ID_REGEX

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)


def visible_team(request, slug: str | None, *, field: str = "team") -> Team | None:
    """The team with this slug if the caller may use it (None for None), else ``NotFound``."""
    if slug is None:
        return None
    team = Team.objects.filter(slug=slug).first()
    if team is None or not team_allowed(request, team.pk):
        raise NotFound(f"No team with slug {slug!r}.", field=field)
    return team


def restrict_to_teams_or_shared(queryset, request):
    """Narrow reference data to the caller's teams and what serves every team."""
    ids = allowed_team_ids(request)
    if ids is None:
        return queryset
    return queryset.filter(Q(team__isnull=True) | Q(team__in=ids))


def require_fleet_wide(request, *, what: str) -> None:
    """Refuse (403) a caller restricted to some teams: ``what`` serves every team."""
    if allowed_team_ids(request) is not None:
        raise OutOfTeamScope(
            f"You may not change {what}: they serve every team and you act for some teams only."
        )


def require_own_team(request, *, team: Team | None, current=None) -> None:
    """Refuse (403) a team-restricted caller writing what is shared by every team.

    ``team`` is the team the body names, ``current`` the object being replaced.
    (A team the caller may not see was refused as unknown already.)
    """
    if allowed_team_ids(request) is None:
        return
    if current is not None and current.team_id is None:
        raise OutOfTeamScope(
            "You may not change this: it is shared by every team and you act for some teams only."
        )
    if team is None:
        raise OutOfTeamScope(
            "You act for some teams only: name one of them (a record without a team "
            "serves every team).",
            field="team",
        )


def level_by_name(name: str | None, *, field: str) -> SeverityLevel | None:
    """The severity level with this name (None for None), else ``NotFound`` naming the field."""
    if name is None:
        return None
    level = SeverityLevel.objects.filter(name=name).first()
    if level is None:
        raise NotFound(f"No severity level named {name!r}.", field=field)
    return level


def counterparts_by_id(request, ids: list[int], *, field: str) -> list[Counterpart]:
    """The counterparts with these ids the caller may see, in order, without repeats;
    else ``NotFound``."""
    found = restrict_to_teams_or_shared(
        Counterpart.objects.defer("webhook_secret"), request
    ).in_bulk(ids)
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise NotFound(f"No counterpart with id {missing[0]}.", field=field)
    return [found[pk] for pk in dict.fromkeys(ids)]


# --- signals ---------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List signals", tags=["signals"]),
    retrieve=extend_schema(summary="Read a signal", tags=["signals"]),
)
class SignalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, EscalationsViewSet):
    """Signals: observations that may matter for trust (append-only), newest first."""

    serializer_class = SignalOutputSerializer
    filterset_class = SignalFilter
    required_scopes = {"create": ApiScope.SIGNALS_WRITE}
    schema = BodyRequiredSchema()

    def get_queryset(self):
        return restrict_to_teams(
            selectors.signal_list_brief(), self.request, team_field="agent__team"
        )

    @extend_schema(
        summary="Post a signal, or a list of up to 1,000",
        description=(
            "Stores each signal, matches it to the enabled control of its kind, and joins the "
            "open incident for the same agent, kind and pact or opens one (routed, with "
            "notifications queued). A list is all or nothing and is answered with a list in "
            "the same order. `(source, idempotency_key)` identifies a signal: sending it again "
            "with the same body returns the first result and creates nothing; with a different "
            "body it is refused (422). The answer is 201 when at least one signal was new "
            "(a list mixing replays and new signals is 201) and 200 when every signal was a "
            "replay. An unknown agent, or one of a team the key may not see, is 404 and "
            "nothing is written."
        ),
        tags=["signals"],
        request=SignalBodySerializer,
        responses={
            201: OpenApiResponse(SignalResultsSerializer, description="At least one new signal."),
            200: OpenApiResponse(SignalResultsSerializer, description="Every signal a replay."),
        },
    )
    @idempotent
    def create(self, request):
        data = request.data
        many = isinstance(data, list)
        if many and not data:
            raise ValidationError(["Send at least one signal."], code="min_length")
        if many and len(data) > BULK_MAX_ITEMS:
            raise ValidationError(
                [f"At most {BULK_MAX_ITEMS} signals per request ({len(data)} sent)."],
                code="max_length",
            )
        refuse_invisible_agents(request, data if many else [data], many=many)
        body = SignalInputSerializer(data=data, many=many)
        body.is_valid(raise_exception=True)
        try:
            if many:
                outcomes = signals_ingest_bulk(items=body.validated_data, actor=request.user)
            else:
                outcomes = [signal_ingest(**body.validated_data, actor=request.user)]
        except DomainError as exc:
            if exc.field and exc.field.startswith("items["):
                exc.field = exc.field[len("items") :]  # the body is the list: "[3].kind"
            raise
        results = [signal_result(outcome) for outcome in outcomes]
        created = any(outcome.created for outcome in outcomes)
        return Response(
            results if many else results[0],
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def signal_result(outcome: SignalOutcome) -> dict:
    """``{"id", "incident", "suppressed"}``: the same for the first call and every replay."""
    return {
        "id": outcome.signal.pk,
        "incident": outcome.incident.pk if outcome.incident is not None else None,
        "suppressed": outcome.signal.suppressed,
    }


def refuse_invisible_agents(request, items: list, *, many: bool) -> None:
    """404 naming the first item whose agent does not exist or is of another team.

    The agent is the resource the signal is about, so this is checked before the
    rest of the body (as for evaluations); one query for the whole list.
    """
    named = [
        (index, item["agent"])
        for index, item in enumerate(items)
        if isinstance(item, dict)
        and isinstance(item.get("agent"), str)
        and len(item["agent"]) <= 100
        and _SLUG.fullmatch(item["agent"])
    ]
    if not named:
        return
    visible = set(
        restrict_to_teams(Agent.objects.filter(slug__in={slug for _, slug in named}), request)
        .values_list("slug", flat=True)
        .order_by()
    )
    for index, slug in named:
        if slug not in visible:
            raise NotFound(
                f"No agent with slug {slug!r}.", field=f"[{index}].agent" if many else "agent"
            )


# --- incidents -------------------------------------------------------------------------

INCIDENT_ACTIONS = ("acknowledge", "decide", "resolve", "escalate")


@extend_schema_view(
    list=extend_schema(summary="List incidents", tags=["incidents"]),
    retrieve=extend_schema(summary="Read an incident", tags=["incidents"]),
)
class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, EscalationsViewSet):
    """Incidents, newest first; acting on one answers with the incident as it now stands.

    An action the incident's state does not allow (resolving an open incident,
    escalating at the top of the ladder, deciding again differently) is 409 with
    the reason. Acknowledging, resolving or deciding again the same way is a no-op.
    """

    serializer_class = IncidentOutputSerializer
    filterset_class = IncidentFilter
    required_scopes = {name: ApiScope.SIGNALS_WRITE for name in INCIDENT_ACTIONS}

    def get_queryset(self):
        # Reads answer plain rows; the actions hand the incident to a service.
        if self.action in ("list", "retrieve"):
            return self.rows()
        return restrict_to_teams(Incident.objects.all(), self.request, team_field="agent__team")

    def rows(self):
        """The incidents the caller may see, as plain rows (``selectors.incident_rows``)."""
        return restrict_to_teams(selectors.incident_rows(), self.request, team_field="agent__team")

    def represent(self, rows: list[dict]) -> list[dict]:
        """The rows, with their counterparts and the center's systemic issues (a query each)."""
        ids = [row["id"] for row in rows]
        context = {
            **self.get_serializer_context(),
            "counterparts": selectors.incident_counterparts_brief(ids),
            "systemic_issues": hooks.systemic_issues_for(ids),
        }
        return IncidentOutputSerializer(rows, many=True, context=context).data

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.represent(page))

    def retrieve(self, request, pk=None):
        return Response(self.represent([self.get_object()])[0])

    def answer(self, incident: Incident) -> Response:
        """200 with the incident as it stands after an action."""
        return Response(self.represent([self.rows().get(pk=incident.pk)])[0])

    @extend_schema(
        summary="Acknowledge an incident",
        description="Stops its climb for acknowledgement; the decision deadline starts.",
        tags=["incidents"],
        request=IncidentAcknowledgeInputSerializer,
        responses={200: IncidentOutputSerializer},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    @idempotent
    def acknowledge(self, request, pk=None):
        incident = self.get_object()
        body = IncidentAcknowledgeInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = incident_acknowledge(
            incident=incident, actor=request.user, note=body.validated_data["note"]
        )
        return self.answer(incident)

    @extend_schema(
        summary="Decide an incident",
        description=(
            "Records the decision and applies its consequence to the agent (status, autonomy, "
            "routing) in the same transaction. Deciding an open incident acknowledges it too."
        ),
        tags=["incidents"],
        request=IncidentDecideInputSerializer,
        responses={200: IncidentOutputSerializer},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    @idempotent
    def decide(self, request, pk=None):
        incident = self.get_object()
        body = IncidentDecideInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = incident_decide(incident=incident, actor=request.user, **body.validated_data)
        return self.answer(incident)

    @extend_schema(
        summary="Resolve an incident",
        description="Closes a decided incident (or one whose risk acceptance was approved).",
        tags=["incidents"],
        request=IncidentResolveInputSerializer,
        responses={200: IncidentOutputSerializer},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    @idempotent
    def resolve(self, request, pk=None):
        incident = self.get_object()
        body = IncidentResolveInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = incident_resolve(
            incident=incident, actor=request.user, note=body.validated_data["note"]
        )
        return self.answer(incident)

    @extend_schema(
        summary="Escalate an incident one level",
        description=(
            "Climbs one level of the incident's ladder by hand. Each call climbs again: send an "
            "Idempotency-Key header to make a retry safe."
        ),
        tags=["incidents"],
        request=IncidentEscalateInputSerializer,
        responses={200: IncidentOutputSerializer},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    @idempotent
    def escalate(self, request, pk=None):
        incident = self.get_object()
        body = IncidentEscalateInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = incident_escalate(
            incident=incident, actor=request.user, reason=body.validated_data["reason"]
        )
        return self.answer(incident)


# --- reference data: the ladder, controls, counterparts, routing -----------------------


class ReferenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, EscalationsViewSet):
    """List and read with ``read``; create (POST) and replace (PUT) with ``admin``."""

    required_scopes = {"create": ApiScope.ADMIN, "update": ApiScope.ADMIN}
    input_serializer_class: type
    output_serializer_class: type

    def output(self, instance) -> dict:
        """The saved object as the list shows it (read again through the selector)."""
        fresh = self.get_queryset().get(pk=instance.pk)
        return self.output_serializer_class(fresh, context=self.get_serializer_context()).data

    def validated(self, request) -> dict:
        """The request body checked by the input serializer, with a history reason."""
        body = self.input_serializer_class(data=request.data)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        values["reason"] = values.get("reason") or self.default_reason(request)
        return values

    def default_reason(self, request) -> str:
        """The history reason when the body gives none, e.g. "Control created through the API"."""
        noun = self.get_queryset().model._meta.verbose_name
        verb = "created" if request.method == "POST" else "updated"
        return f"{noun.capitalize()} {verb} through the API"


def _level_values(values: dict) -> dict:
    reminders = values.pop("reminders")
    values["ack_deadline"] = timedelta(seconds=values.pop("ack_deadline_seconds"))
    values["decision_deadline"] = timedelta(seconds=values.pop("decision_deadline_seconds"))
    values["automatic_consequence"] = values["automatic_consequence"] or ""
    values["max_reminders"] = reminders["max"] if reminders else 0
    values["reminder_interval"] = (
        timedelta(seconds=reminders["interval_seconds"]) if reminders else None
    )
    return values


@extend_schema_view(
    list=extend_schema(summary="List the severity ladder", tags=["ladder"]),
    retrieve=extend_schema(summary="Read a severity level", tags=["ladder"]),
    create=extend_schema(
        summary="Add a severity level",
        tags=["ladder"],
        request=SeverityLevelInputSerializer,
        responses={201: SeverityLevelOutputSerializer},
    ),
    update=extend_schema(
        summary="Replace a severity level",
        description="Incidents already open keep climbing on the ladder they opened under.",
        tags=["ladder"],
        request=SeverityLevelInputSerializer,
        responses={200: SeverityLevelOutputSerializer},
    ),
)
class SeverityLevelViewSet(ReferenceViewSet):
    """The severity ladder (a higher rank is more severe), lowest first."""

    serializer_class = output_serializer_class = SeverityLevelOutputSerializer
    input_serializer_class = SeverityLevelInputSerializer
    cursor_ordering = "rank"

    def get_queryset(self):
        return selectors.severity_level_list()

    @idempotent
    def create(self, request):
        require_fleet_wide(request, what="the severity ladder")
        level = severity_level_create(actor=request.user, **_level_values(self.validated(request)))
        return Response(self.output(level), status=status.HTTP_201_CREATED)

    def update(self, request, pk=None):
        level = self.get_object()
        require_fleet_wide(request, what="the severity ladder")
        level = severity_level_update(
            level=level, actor=request.user, **_level_values(self.validated(request))
        )
        return Response(self.output(level))


@extend_schema_view(
    list=extend_schema(summary="List controls", tags=["controls"]),
    retrieve=extend_schema(summary="Read a control", tags=["controls"]),
    create=extend_schema(
        summary="Create a control",
        description=(
            "A control needs an owner (counterpart id) and a consequence (the default "
            "decision); at most one enabled control per signal kind (409 otherwise)."
        ),
        tags=["controls"],
        request=ControlInputSerializer,
        responses={201: ControlOutputSerializer},
    ),
    update=extend_schema(
        summary="Replace a control",
        tags=["controls"],
        request=ControlInputSerializer,
        responses={200: ControlOutputSerializer},
    ),
)
class ControlViewSet(ReferenceViewSet):
    """Controls: the rules that turn a kind of signal into an incident, an owner, a decision."""

    serializer_class = output_serializer_class = ControlOutputSerializer
    input_serializer_class = ControlInputSerializer
    cursor_ordering = "name"

    def get_queryset(self):
        return selectors.control_list()

    def control_values(self, request) -> dict:
        values = self.validated(request)
        threshold = values.pop("condition").get("threshold")
        values["condition"] = {} if threshold is None else {"threshold": threshold}
        values["opening_severity"] = level_by_name(
            values["opening_severity"], field="opening_severity"
        )
        values["owner"] = counterparts_by_id(request, [values["owner"]], field="owner")[0]
        values["review_cadence"] = timedelta(seconds=values.pop("review_cadence_seconds"))
        return values

    @idempotent
    def create(self, request):
        require_fleet_wide(request, what="controls")
        control = control_create(actor=request.user, **self.control_values(request))
        return Response(self.output(control), status=status.HTTP_201_CREATED)

    def update(self, request, pk=None):
        control = self.get_object()
        require_fleet_wide(request, what="controls")
        control = control_update(
            control=control, actor=request.user, **self.control_values(request)
        )
        return Response(self.output(control))


@extend_schema_view(
    list=extend_schema(summary="List counterparts", tags=["counterparts"]),
    retrieve=extend_schema(summary="Read a counterpart", tags=["counterparts"]),
    create=extend_schema(
        summary="Create a counterpart",
        description=(
            "Needs an email address or a webhook URL. Webhook bodies are signed with a "
            "secret generated here and shown only in the admin."
        ),
        tags=["counterparts"],
        request=CounterpartInputSerializer,
        responses={201: CounterpartOutputSerializer},
    ),
    update=extend_schema(
        summary="Replace a counterpart",
        tags=["counterparts"],
        request=CounterpartInputSerializer,
        responses={200: CounterpartOutputSerializer},
    ),
)
class CounterpartViewSet(ReferenceViewSet):
    """People and rotations incidents are routed to; the webhook signing secret never shows."""

    serializer_class = output_serializer_class = CounterpartOutputSerializer
    input_serializer_class = CounterpartInputSerializer
    cursor_ordering = "name"

    def get_queryset(self):
        return restrict_to_teams_or_shared(selectors.counterpart_list(), self.request)

    def counterpart_values(self, request, current=None) -> dict:
        values = self.validated(request)
        values["team"] = visible_team(request, values["team"])
        require_own_team(request, team=values["team"], current=current)
        return values

    @idempotent
    def create(self, request):
        counterpart = counterpart_create(actor=request.user, **self.counterpart_values(request))
        return Response(self.output(counterpart), status=status.HTTP_201_CREATED)

    def update(self, request, pk=None):
        counterpart = self.get_object()
        counterpart = counterpart_update(
            counterpart=counterpart,
            actor=request.user,
            **self.counterpart_values(request, current=counterpart),
        )
        return Response(self.output(counterpart))


@extend_schema_view(
    list=extend_schema(summary="List routing rules", tags=["routing"]),
    retrieve=extend_schema(summary="Read a routing rule", tags=["routing"]),
    create=extend_schema(
        summary="Create a routing rule",
        description=(
            "Criteria left null match anything; the most specific matching rules win. The "
            "default rule (the fallback) is chosen in the admin and takes no criteria."
        ),
        tags=["routing"],
        request=RoutingRuleInputSerializer,
        responses={201: RoutingRuleOutputSerializer},
    ),
    update=extend_schema(
        summary="Replace a routing rule",
        tags=["routing"],
        request=RoutingRuleInputSerializer,
        responses={200: RoutingRuleOutputSerializer},
    ),
)
class RoutingRuleViewSet(ReferenceViewSet):
    """Which counterparts an incident goes to, by kind, team, tier and severity."""

    serializer_class = output_serializer_class = RoutingRuleOutputSerializer
    input_serializer_class = RoutingRuleInputSerializer

    def get_queryset(self):
        return restrict_to_teams_or_shared(selectors.routing_rule_list(), self.request)

    def rule_values(self, request, current=None) -> dict:
        values = self.validated(request)
        values["kind"] = values["kind"] or ""
        values["team"] = visible_team(request, values["team"])
        require_own_team(request, team=values["team"], current=current)
        values["min_severity"] = level_by_name(values["min_severity"], field="min_severity")
        values["counterparts"] = counterparts_by_id(
            request, values["counterparts"], field="counterparts"
        )
        return values

    @idempotent
    def create(self, request):
        rule = routing_rule_create(actor=request.user, **self.rule_values(request))
        return Response(self.output(rule), status=status.HTTP_201_CREATED)

    def update(self, request, pk=None):
        rule = self.get_object()
        rule = routing_rule_update(
            rule=rule, actor=request.user, **self.rule_values(request, current=rule)
        )
        return Response(self.output(rule))
