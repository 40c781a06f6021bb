from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from trust.choices import Comparator, EvaluatorKind, MetricUnit, PactVersionState, Verdict
from trust.models import (
    Agent,
    Dispute,
    Evaluation,
    EvaluationResult,
    Obligation,
    Pact,
    PactVersion,
    Score,
    Team,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"operator{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.Sequence(lambda n: f"Team {n}")


class PactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pact

    slug = factory.Sequence(lambda n: f"pact-{n}")
    name = factory.Sequence(lambda n: f"Pact {n}")


class PactVersionFactory(factory.django.DjangoModelFactory):
    """A published version with one obligation: ``task_success_rate >= 0.9``."""

    class Meta:
        model = PactVersion
        skip_postgeneration_save = True

    pact = factory.SubFactory(PactFactory)
    number = factory.Sequence(lambda n: n + 1)
    state = PactVersionState.PUBLISHED
    published_at = factory.LazyFunction(timezone.now)
    freshness_window = timedelta(days=7)
    review_cadence = timedelta(days=30)

    obligation = factory.RelatedFactory(
        "tests.factories.trust.ObligationFactory", factory_related_name="pact_version"
    )


class ObligationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Obligation

    pact_version = factory.SubFactory(PactVersionFactory, obligation=None)
    metric = "task_success_rate"
    unit = MetricUnit.RATIO
    comparator = Comparator.GTE
    threshold = 0.9
    window = timedelta(days=1)
    breach_severity = "SEV3"


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent

    slug = factory.Sequence(lambda n: f"agent-{n}")
    name = factory.Sequence(lambda n: f"Agent {n}")
    team = factory.SubFactory(TeamFactory)
    tier = 2
    pact_version = factory.SubFactory(PactVersionFactory)
    pact_assigned_at = factory.LazyFunction(timezone.now)
    evaluation_due_at = factory.LazyAttribute(
        lambda a: timezone.now() + a.pact_version.freshness_window if a.pact_version else None
    )


class EvaluationFactory(factory.django.DjangoModelFactory):
    """A passing evaluation row written directly (use ``evaluation_submit`` for the rules)."""

    class Meta:
        model = Evaluation

    agent = factory.SubFactory(AgentFactory)
    pact_version = factory.LazyAttribute(lambda e: e.agent.pact_version)
    evaluator = "eval-runner"
    evaluator_kind = EvaluatorKind.CODE
    independent = True
    completed_at = factory.LazyFunction(timezone.now)
    started_at = factory.LazyAttribute(lambda e: e.completed_at - timedelta(minutes=5))
    verdict = Verdict.PASS
    passed_count = 1
    failed_count = 0
    submitted_by = factory.SubFactory(UserFactory)


class EvaluationResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EvaluationResult

    evaluation = factory.SubFactory(EvaluationFactory)
    obligation = factory.LazyAttribute(lambda r: r.evaluation.pact_version.obligations.first())
    value = 0.95
    passed = True


class ScoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Score

    agent = factory.SubFactory(AgentFactory)
    value = 800
    computed_at = factory.LazyFunction(timezone.now)


class DisputeFactory(factory.django.DjangoModelFactory):
    """An open dispute written directly (use ``dispute_open`` for the rules)."""

    class Meta:
        model = Dispute

    agent = factory.SubFactory(AgentFactory)
    reference = factory.Sequence(lambda n: f"SETTLE-{n:05d}")
    counterparty = "Acme Payments"
    amount = "1250.00"
    currency = "EUR"
    opened_by = factory.SubFactory(UserFactory)
