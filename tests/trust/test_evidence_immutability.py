"""Evidence is append-only: no service updates or deletes an evaluation, a result or a score."""

import re
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import PactVersionFactory
from trust.choices import DisputeOutcome
from trust.models import Agent, Evaluation, EvaluationResult, Score
from trust.services.agents import (
    agent_assign_pact_version,
    agent_set_incident_summary,
    agent_set_operating_state,
    agent_update,
)
from trust.services.disputes import dispute_open, dispute_resolve
from trust.services.evaluations import evaluation_submit
from trust.services.scores import score_recompute

pytestmark = pytest.mark.django_db

EVIDENCE_TABLES = ("trust_evaluation", "trust_evaluationresult", "trust_score")
WRITE_TO_EVIDENCE = re.compile(
    r'^\s*(UPDATE|DELETE FROM)\s+"(' + "|".join(EVIDENCE_TABLES) + r')"', re.IGNORECASE
)


def evidence_rows():
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Evaluation, EvaluationResult, Score)
    }


def submit(agent, actor, value, *, age=timedelta(minutes=1)):
    completed = timezone.now() - age
    return evaluation_submit(
        agent=agent,
        pact_version=agent.pact_version,
        evaluator="nightly",
        evaluator_kind="code",
        started_at=completed,
        completed_at=completed,
        results=[{"obligation": "task_success_rate", "value": value}],
        actor=actor,
    )


def test_no_service_updates_or_deletes_evidence(agent, actor):
    submit(agent, actor, 0.95)
    submit(agent, actor, 0.4, age=timedelta(days=2))
    written = evidence_rows()

    with CaptureQueriesContext(connection) as queries:
        submit(agent, actor, 0.5)
        score_recompute(agent=agent, reason="Nightly", actor=actor)
        agent_set_incident_summary(
            agent_id=agent.pk, open_count=1, highest_severity="SEV2", highest_rank=3
        )
        score_recompute(agent=agent, reason="Incident opened", actor=actor)
        dispute = dispute_open(
            agent=agent,
            reference="ESCROW-9",
            counterparty="Fabrikam",
            amount=10,
            currency="EUR",
            actor=actor,
        )
        dispute_resolve(dispute=dispute, outcome=DisputeOutcome.AGAINST_AGENT, actor=actor)
        agent_update(agent=agent, actor=actor, reason="Rename", name="Renamed")
        agent_set_operating_state(agent=agent, actor=actor, reason="Restrict", status="restricted")
        newer = PactVersionFactory(pact=agent.pact_version.pact)
        agent_assign_pact_version(agent=agent, pact_version=newer, actor=actor, reason="v2")
        submit(Agent.objects.get(pk=agent.pk), actor, 0.99)

    statements = [q["sql"] for q in queries.captured_queries]
    assert not [sql for sql in statements if WRITE_TO_EVIDENCE.match(sql)]
    after = evidence_rows()
    for model, rows in written.items():
        assert after[model][: len(rows)] == rows, f"{model} rows changed"
    assert len(after["Evaluation"]) == 4
    assert len(after["Score"]) > len(written["Score"])


def test_deleting_an_agent_with_evidence_is_refused(agent, actor):
    submit(agent, actor, 0.5)
    with pytest.raises(ProtectedError), transaction.atomic():
        Agent.objects.get(pk=agent.pk).delete()
    assert Evaluation.objects.filter(agent=agent).exists()
    assert Score.objects.filter(agent=agent).exists()
