"""trust reads: querysets with their joins and annotations decided in one place."""

from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.utils import timezone

from atoc.core.exceptions import NotFound
from trust.choices import AgentStatus, PactVersionState
from trust.models import (
    Agent,
    Component,
    Dispute,
    Evaluation,
    EvaluationResult,
    Obligation,
    Pact,
    PactVersion,
    Team,
)


def agent_list() -> QuerySet[Agent]:
    """Agents with what a list row shows (team, pact version) joined in."""
    return Agent.objects.select_related("team", "pact_version__pact")


def agent_get(*, slug: str) -> Agent:
    """The agent with this slug, or ``NotFound`` naming the field."""
    try:
        return agent_list().get(slug=slug)
    except Agent.DoesNotExist:
        raise NotFound(f"No agent with slug {slug!r}.", field="agent") from None


def stale_q(now, *, prefix: str = "") -> Q:
    """Agents whose newest evidence is older than their pact version's window.

    A retired agent owes no evidence: it is never stale. ``prefix`` leads from the
    queried model to the agent (``"agents__"`` from a team).
    """
    return Q(**{f"{prefix}evaluation_due_at__lt": now}) & ~Q(
        **{f"{prefix}status": AgentStatus.RETIRED}
    )


def agents_stale(*, now=None) -> QuerySet[Agent]:
    """Agents whose newest evidence is older than their pact version's window."""
    return Agent.objects.filter(stale_q(now or timezone.now()))


def team_list_with_fleet_counts(*, now=None) -> QuerySet[Team]:
    """Teams annotated with agent, stale-agent and open-incident counts (one query)."""
    now = now or timezone.now()
    return Team.objects.annotate(
        agent_count=Count("agents", distinct=True),
        stale_count=Count("agents", filter=stale_q(now, prefix="agents__"), distinct=True),
        restricted_count=Count(
            "agents",
            filter=Q(agents__status__in=["restricted", "suspended"]),
            distinct=True,
        ),
    )


def evaluation_list() -> QuerySet[Evaluation]:
    return Evaluation.objects.select_related("agent", "pact_version__pact", "submitted_by")


def pact_version_list() -> QuerySet[PactVersion]:
    return PactVersion.objects.select_related("pact").annotate(
        obligation_count=Count("obligations", distinct=True),
        agent_count=Count("agents", distinct=True),
    )


# --- reads for the REST API (every list endpoint: constant query count) ----------


def agent_list_with_components() -> QuerySet[Agent]:
    """Agents as the API shows them: team, pact version and components loaded up front."""
    return agent_list().prefetch_related(
        Prefetch("components", queryset=Component.objects.order_by("name"))
    )


def pact_list() -> QuerySet[Pact]:
    """Pacts with their number of versions and newest published version number."""
    return Pact.objects.annotate(
        version_count=Count("versions", distinct=True),
        latest_published_number=Max(
            "versions__number", filter=Q(versions__state=PactVersionState.PUBLISHED)
        ),
    )


def pact_version_list_with_obligations() -> QuerySet[PactVersion]:
    """Pact versions with their obligations prefetched and agents holding them counted."""
    return (
        PactVersion.objects.select_related("pact")
        .annotate(agent_count=Count("agents", distinct=True))
        .prefetch_related(Prefetch("obligations", queryset=Obligation.objects.order_by("metric")))
    )


def evaluation_list_with_results() -> QuerySet[Evaluation]:
    """Evaluations with their per-obligation results (and each result's metric)."""
    return evaluation_list().prefetch_related(
        Prefetch(
            "results",
            queryset=EvaluationResult.objects.select_related("obligation").order_by(
                "obligation__metric"
            ),
        )
    )


def dispute_list() -> QuerySet[Dispute]:
    """Disputes with their agent joined in."""
    return Dispute.objects.select_related("agent")
