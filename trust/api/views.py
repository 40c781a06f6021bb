"""Trust endpoints: thin callers of trust services (writes) and selectors (reads).

Scopes: reads need ``read``; evaluations ``evaluations:write``; disputes
``signals:write`` (a dispute is a settlement signal); agents, pacts and pact
versions are configuration and need ``admin``. A team-restricted key sees only
its teams' agents (and their evaluations and disputes); anything else is 404.
"""

from datetime import timedelta
from functools import cached_property

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from atoc.core.api.idempotency import idempotent
from atoc.core.api.permissions import restrict_to_teams, team_allowed
from atoc.core.exceptions import AlreadyExists, NotFound
from atoc.core.models import ApiScope
from atoc.core.signing import published_keys
from trust import selectors
from trust.api import hooks, oracle
from trust.api.filters import AgentFilter, DisputeFilter, EvaluationFilter
from trust.api.serializers import (
    AgentCreateInputSerializer,
    AgentOutputSerializer,
    AgentUpdateInputSerializer,
    DisputeOpenInputSerializer,
    DisputeOutputSerializer,
    DisputeResolveInputSerializer,
    DisputeWithSignalsOutputSerializer,
    EvaluationOutputSerializer,
    EvaluationSubmitInputSerializer,
    EvaluationSubmitOutputSerializer,
    PactCreateInputSerializer,
    PactOutputSerializer,
    PactVersionCreateInputSerializer,
    PactVersionOutputSerializer,
    TeamOutputSerializer,
    TrustKeysSerializer,
    TrustStatementSerializer,
)
from trust.models import Agent, Dispute, Pact, PactVersion, Team
from trust.services.agents import agent_assign_pact_version, agent_create, agent_update
from trust.services.disputes import dispute_open, dispute_resolve
from trust.services.evaluations import evaluation_submit
from trust.services.pacts import pact_create, pact_version_create

SLUG_REGEX = r"[-a-zA-Z0-9_]+"
ID_REGEX = r"[0-9]+"


class TrustViewSet(viewsets.GenericViewSet):
    """Shared behaviour: one ``now`` per request, filters only on lists."""

    @cached_property
    def now(self):
        return timezone.now()

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": self.now}

    def filter_queryset(self, queryset):
        # Query filters describe lists; a detail URL ignores them.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)


def visible_agent(request, slug: str, *, field: str = "agent") -> Agent:
    """The agent with this slug if the caller may see it, else ``NotFound`` naming the field."""
    agent = (
        restrict_to_teams(Agent.objects.select_related("team", "pact_version__pact"), request)
        .filter(slug=slug)
        .first()
    )
    if agent is None:
        raise NotFound(f"No agent with slug {slug!r}.", field=field)
    return agent


def agent_named_in_body(request) -> Agent | None:
    """Look up the body's ``agent`` before validating the rest of the body.

    The agent is the resource the evidence is about, so an unknown agent (or one
    of another team) is 404 whatever else the body holds, as a path would be.
    """
    slug = request.data.get("agent") if isinstance(request.data, dict) else None
    if isinstance(slug, str) and slug:
        return visible_agent(request, slug)
    return None


def visible_team(request, slug: str, *, field: str = "team") -> Team:
    team = Team.objects.filter(slug=slug).first()
    if team is None or not team_allowed(request, team.pk):
        raise NotFound(f"No team with slug {slug!r}.", field=field)
    return team


def refuse_duplicate(queryset, noun: str, slug: str) -> None:
    """Answer 409 for a slug that is taken, before the service refuses it as invalid.

    The service's own check stays the guard (and answers 400 if a concurrent
    request wins the race); this only gives the caller the conflict status.
    """
    if queryset.exists():
        raise AlreadyExists(f"A {noun} with slug {slug!r} already exists.", field="slug")


def pact_version_by_id(pk: int, *, field: str = "pact_version") -> PactVersion:
    version = PactVersion.objects.select_related("pact").filter(pk=pk).first()
    if version is None:
        raise NotFound(f"No pact version with id {pk}.", field=field)
    return version


# --- teams ----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List teams", tags=["teams"]),
    retrieve=extend_schema(summary="Read a team", tags=["teams"]),
)
class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TrustViewSet):
    """Teams with their fleet counts (agents, stale, restricted)."""

    serializer_class = TeamOutputSerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG_REGEX
    cursor_ordering = "slug"

    def get_queryset(self):
        queryset = selectors.team_list_with_fleet_counts(now=self.now)
        return restrict_to_teams(queryset, self.request, team_field="pk")


# --- agents ---------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List agents", tags=["agents"]),
    retrieve=extend_schema(summary="Read an agent", tags=["agents"]),
)
class AgentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TrustViewSet):
    """Agents, addressed by slug; status, autonomy and routing change through decisions."""

    serializer_class = AgentOutputSerializer
    filterset_class = AgentFilter
    lookup_field = "slug"
    lookup_value_regex = SLUG_REGEX
    cursor_ordering = "slug"
    required_scopes = {
        "create": ApiScope.ADMIN,
        "update": ApiScope.ADMIN,
        "partial_update": ApiScope.ADMIN,
    }

    def get_queryset(self):
        return restrict_to_teams(selectors.agent_list_with_components(), self.request)

    def _output(self, agent: Agent) -> dict:
        fresh = selectors.agent_list_with_components().get(pk=agent.pk)
        return AgentOutputSerializer(fresh, context=self.get_serializer_context()).data

    @extend_schema(
        summary="Register an agent",
        tags=["agents"],
        request=AgentCreateInputSerializer,
        responses={201: AgentOutputSerializer},
    )
    @idempotent
    def create(self, request):
        data = AgentCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        refuse_duplicate(Agent.objects.filter(slug=values["slug"]), "agent", values["slug"])
        team = visible_team(request, values["team"])
        version = pact_version_by_id(values["pact_version"]) if values.get("pact_version") else None
        agent = agent_create(
            slug=values["slug"],
            name=values["name"],
            team=team,
            tier=values["tier"],
            description=values["description"],
            components=values["components"],
            status=values["status"],
            autonomy=values["autonomy"],
            routing=values["routing"],
            pact_version=version,
            actor=request.user,
            reason="Agent registered through the API",
        )
        return Response(self._output(agent), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Update an agent",
        tags=["agents"],
        request=AgentUpdateInputSerializer,
        responses={200: AgentOutputSerializer},
    )
    def update(self, request, slug=None):
        return self._update(request, partial=False)

    @extend_schema(
        summary="Update some of an agent's fields",
        tags=["agents"],
        request=AgentUpdateInputSerializer,
        responses={200: AgentOutputSerializer},
    )
    def partial_update(self, request, slug=None):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        agent = self.get_object()
        data = AgentUpdateInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        reason = values.pop("reason", None) or "Agent updated through the API"
        components = values.pop("components", None)
        version_id = values.pop("pact_version", None)
        if "team" in values:
            values["team"] = visible_team(request, values["team"])
        with transaction.atomic():
            agent = agent_update(
                agent=agent, actor=request.user, reason=reason, components=components, **values
            )
            if version_id is not None:
                agent = agent_assign_pact_version(
                    agent=agent,
                    pact_version=pact_version_by_id(version_id),
                    actor=request.user,
                    reason=reason,
                )
        return Response(self._output(agent))

    @extend_schema(
        summary="Signed trust statement",
        description=(
            "The agent's current status, score, freshness, pact version and open incidents, "
            "signed with Ed25519 over the canonical JSON of every other field. Verify it with "
            "the keys at /api/v1/trust/keys/."
        ),
        tags=["trust"],
        responses={200: TrustStatementSerializer},
    )
    @action(detail=True, methods=["get"], url_path="trust", pagination_class=None)
    def trust(self, request, slug=None):
        return Response(oracle.trust_statement(self.get_object(), now=self.now))


class TrustKeysView(APIView):
    """The public keys trust statements are signed with (no credentials needed)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Public keys for trust statements",
        tags=["trust"],
        responses={200: TrustKeysSerializer},
        auth=[],
    )
    def get(self, request):
        return Response({"keys": published_keys()})


# --- pacts ----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List pacts", tags=["pacts"]),
    retrieve=extend_schema(summary="Read a pact", tags=["pacts"]),
)
class PactViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TrustViewSet):
    """Pacts (named, versioned sets of obligations), addressed by id."""

    serializer_class = PactOutputSerializer
    lookup_value_regex = ID_REGEX
    cursor_ordering = "slug"
    required_scopes = {"create": ApiScope.ADMIN}

    def get_queryset(self):
        return selectors.pact_list()

    @extend_schema(
        summary="Create a pact",
        tags=["pacts"],
        request=PactCreateInputSerializer,
        responses={201: PactOutputSerializer},
    )
    @idempotent
    def create(self, request):
        data = PactCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slug = data.validated_data["slug"]
        refuse_duplicate(Pact.objects.filter(slug=slug), "pact", slug)
        pact = pact_create(**data.validated_data, actor=request.user)
        output = PactOutputSerializer(selectors.pact_list().get(pk=pact.pk)).data
        return Response(output, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="List a pact's versions", tags=["pacts"]),
    retrieve=extend_schema(summary="Read a pact version by number", tags=["pacts"]),
)
class PactVersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TrustViewSet):
    """The versions of one pact; POST publishes a new one with its obligations."""

    serializer_class = PactVersionOutputSerializer
    lookup_field = "number"
    lookup_value_regex = ID_REGEX
    cursor_ordering = "-number"
    required_scopes = {"create": ApiScope.ADMIN}

    @cached_property
    def pact(self) -> Pact:
        pact = Pact.objects.filter(pk=self.kwargs["pact_id"]).first()
        if pact is None:
            raise NotFound(f"No pact with id {self.kwargs['pact_id']}.", field="pact")
        return pact

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no URL kwargs
            return PactVersion.objects.none()
        return selectors.pact_version_list_with_obligations().filter(pact=self.pact)

    @extend_schema(
        summary="Publish a new pact version",
        description="Creates the pact's next version with its obligations and publishes it.",
        tags=["pacts"],
        request=PactVersionCreateInputSerializer,
        responses={201: PactVersionOutputSerializer},
    )
    @idempotent
    def create(self, request, pact_id=None):
        data = PactVersionCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        obligations = [
            {
                "metric": item["metric"],
                "description": item.get("description", ""),
                "unit": item["unit"],
                "comparator": item["comparator"],
                "threshold": item["threshold"],
                "window": timedelta(seconds=item["window_seconds"]),
                "breach_severity": item["breach_severity"],
            }
            for item in values["obligations"]
        ]
        version = pact_version_create(
            pact=self.pact,
            freshness_window=timedelta(seconds=values["freshness_window_seconds"]),
            review_cadence=timedelta(seconds=values["review_cadence_seconds"]),
            obligations=obligations,
            notes=values["notes"],
            publish=True,
            actor=request.user,
        )
        output = PactVersionOutputSerializer(self.get_queryset().get(pk=version.pk)).data
        return Response(output, status=status.HTTP_201_CREATED)


# --- evaluations ----------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List evaluations", tags=["evaluations"]),
    retrieve=extend_schema(summary="Read an evaluation", tags=["evaluations"]),
)
class EvaluationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TrustViewSet):
    """Evaluations: evidence submitted by runners (append-only), newest first."""

    serializer_class = EvaluationOutputSerializer
    filterset_class = EvaluationFilter
    lookup_value_regex = ID_REGEX
    required_scopes = {"create": ApiScope.EVALUATIONS_WRITE}

    def get_queryset(self):
        return restrict_to_teams(
            selectors.evaluation_list_with_results(), self.request, team_field="agent__team"
        )

    @extend_schema(
        summary="Submit an evaluation",
        description=(
            "Checks every result against its obligation, stores the evaluation, recomputes "
            "the score and raises a pact_breach signal for failures. `results` must hold "
            "exactly one result for every obligation of the pact version; a submission that "
            "leaves one out is refused with 400 on `results`, naming the missing metrics, "
            "and nothing is stored. `results[].obligation` is the obligation's metric name "
            "or id."
        ),
        tags=["evaluations"],
        request=EvaluationSubmitInputSerializer,
        responses={201: EvaluationSubmitOutputSerializer},
    )
    @idempotent
    def create(self, request):
        agent_named_in_body(request)
        data = EvaluationSubmitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        agent = visible_agent(request, values.pop("agent"))
        version = pact_version_by_id(values.pop("pact_version"))
        outcome = evaluation_submit(agent=agent, pact_version=version, actor=request.user, **values)
        evaluation = self.get_queryset().get(pk=outcome.evaluation.pk)
        body = dict(EvaluationOutputSerializer(evaluation).data)
        body["failures"] = outcome.failures
        body["score"] = (
            {
                "value": outcome.score.value,
                "previous_value": outcome.score.previous_value,
                "computed_at": oracle.isoformat(outcome.score.computed_at),
            }
            if outcome.score is not None
            else None
        )
        body["signals"] = hooks.signals_for(f"evaluation:{evaluation.pk}")
        return Response(body, status=status.HTTP_201_CREATED)


# --- disputes --------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List settlement disputes", tags=["disputes"]),
    retrieve=extend_schema(summary="Read a dispute", tags=["disputes"]),
)
class DisputeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TrustViewSet):
    """Settlement disputes about agents' work; opening one is a trust signal."""

    serializer_class = DisputeOutputSerializer
    filterset_class = DisputeFilter
    lookup_value_regex = ID_REGEX
    required_scopes = {"create": ApiScope.SIGNALS_WRITE, "resolve": ApiScope.SIGNALS_WRITE}

    def get_queryset(self):
        return restrict_to_teams(selectors.dispute_list(), self.request, team_field="agent__team")

    @extend_schema(
        summary="Open a dispute",
        description=(
            "Records the dispute and raises a settlement_dispute signal. Opening the same "
            "reference again returns the existing dispute with 200."
        ),
        tags=["disputes"],
        request=DisputeOpenInputSerializer,
        responses={
            201: DisputeWithSignalsOutputSerializer,
            200: DisputeWithSignalsOutputSerializer,
        },
    )
    @idempotent
    def create(self, request):
        agent_named_in_body(request)
        data = DisputeOpenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        agent = visible_agent(request, values.pop("agent"))
        existed = Dispute.objects.filter(reference=values["reference"]).exists()
        dispute = dispute_open(agent=agent, actor=request.user, **values)
        body = dict(DisputeOutputSerializer(self.get_queryset().get(pk=dispute.pk)).data)
        body["signals"] = hooks.signals_for(f"dispute:{dispute.pk}")
        return Response(body, status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED)

    @extend_schema(
        summary="Resolve a dispute",
        description="Records the outcome; a dispute lost by the agent lowers its score.",
        tags=["disputes"],
        request=DisputeResolveInputSerializer,
        responses={200: DisputeOutputSerializer},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    @idempotent
    def resolve(self, request, pk=None):
        dispute = self.get_object()
        data = DisputeResolveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = dispute_resolve(dispute=dispute, actor=request.user, **data.validated_data)
        return Response(DisputeOutputSerializer(self.get_queryset().get(pk=dispute.pk)).data)
