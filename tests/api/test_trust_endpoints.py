"""Every trust endpoint's happy path: what an integration sends and what it reads back."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api.support import assert_error, dispute_body, evaluation_body, version_body
from tests.factories import (
    AgentFactory,
    DisputeFactory,
    EvaluationFactory,
    EvaluationResultFactory,
    ObligationFactory,
    PactFactory,
    PactVersionFactory,
    TeamFactory,
)
from trust.api import hooks
from trust.models import Agent, Dispute, Evaluation, EvaluationResult, Pact, PactVersion, Score
from trust.services.agents import components_get_or_create

pytestmark = pytest.mark.django_db


# --- teams ------------------------------------------------------------------------


def test_team_list_shows_fleet_counts(api):
    team = TeamFactory(slug="finance", name="Finance")
    AgentFactory(team=team)
    AgentFactory(team=team, evaluation_due_at=timezone.now() - timedelta(hours=1))
    AgentFactory(team=team, status="restricted")

    response = api.get("/api/v1/teams/")

    assert response.status_code == 200
    [row] = [r for r in response.json()["results"] if r["slug"] == "finance"]
    assert row == {
        "slug": "finance",
        "name": "Finance",
        "description": "",
        "agent_count": 3,
        "stale_count": 1,
        "restricted_count": 1,
    }


def test_team_read_by_slug(api):
    TeamFactory(slug="engineering", name="Engineering")
    response = api.get("/api/v1/teams/engineering/")
    assert response.status_code == 200
    assert response.json()["name"] == "Engineering"


# --- agents -----------------------------------------------------------------------


def test_agent_list_shows_state_score_and_freshness(api):
    agent = AgentFactory(slug="refund-bot", current_score=812, tier=1)
    response = api.get("/api/v1/agents/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    [row] = body["results"]
    assert row["slug"] == "refund-bot"
    assert row["team"] == agent.team.slug
    assert row["tier"] == 1
    assert row["score"] == 812
    assert row["status"] == "active"
    assert row["pact"] == agent.pact_version.pact.slug
    assert row["pact_version"] == agent.pact_version_id
    assert row["freshness"]["window_seconds"] == 7 * 86400
    assert row["freshness"]["stale"] is False
    assert row["highest_open_severity"] is None
    assert row["open_incident_count"] == 0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("team=ops", {"ops-1", "ops-stale"}),
        ("tier=1", {"ops-1"}),
        ("status=suspended", {"fin-1"}),
        ("stale=true", {"ops-stale"}),
        ("stale=false", {"ops-1", "fin-1"}),
        ("component=gpt-4o", {"ops-1", "fin-1"}),
        ("team=ops&component=gpt-4o", {"ops-1"}),
    ],
)
def test_agent_list_filters(api, query, expected):
    ops, fin = TeamFactory(slug="ops"), TeamFactory(slug="fin")
    [model] = components_get_or_create(["gpt-4o"])
    AgentFactory(slug="ops-1", team=ops, tier=1).components.add(model)
    AgentFactory(slug="ops-stale", team=ops, evaluation_due_at=timezone.now() - timedelta(days=1))
    AgentFactory(slug="fin-1", team=fin, status="suspended").components.add(model)

    response = api.get(f"/api/v1/agents/?{query}")

    assert response.status_code == 200
    assert {r["slug"] for r in response.json()["results"]} == expected


def test_agent_list_pages_with_a_cursor(api):
    for n in range(5):
        AgentFactory(slug=f"agent-{n:02d}")
    first = api.get("/api/v1/agents/?page_size=2").json()
    assert [r["slug"] for r in first["results"]] == ["agent-00", "agent-01"]
    second = api.get(first["next"]).json()
    assert [r["slug"] for r in second["results"]] == ["agent-02", "agent-03"]


def test_agent_create(api):
    team = TeamFactory(slug="customer-ops")
    version = PactVersionFactory()

    response = api.post(
        "/api/v1/agents/",
        {
            "slug": "refund-bot",
            "name": "Refund bot",
            "team": "customer-ops",
            "tier": 1,
            "description": "Issues refunds",
            "components": ["gpt-4o", "stripe-tool"],
            "pact_version": version.pk,
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "refund-bot"
    assert body["team"] == "customer-ops"
    assert body["components"] == ["gpt-4o", "stripe-tool"]
    assert body["pact_version"] == version.pk
    agent = Agent.objects.get(slug="refund-bot")
    assert agent.team == team
    assert agent.history.first().history_user == api.api_key.user


def test_agent_read(api):
    agent = AgentFactory(slug="ledger-bot")
    response = api.get("/api/v1/agents/ledger-bot/")
    assert response.status_code == 200
    assert response.json()["name"] == agent.name


def test_agent_partial_update_changes_descriptive_fields_and_pact(api):
    agent = AgentFactory(slug="ledger-bot", tier=2)
    new_version = PactVersionFactory(pact=agent.pact_version.pact)
    other_team = TeamFactory(slug="finance")

    response = api.patch(
        "/api/v1/agents/ledger-bot/",
        {
            "tier": 1,
            "team": "finance",
            "components": ["claude"],
            "pact_version": new_version.pk,
            "reason": "Moved to finance",
        },
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["tier"] == 1
    assert body["team"] == "finance"
    assert body["components"] == ["claude"]
    assert body["pact_version"] == new_version.pk
    agent.refresh_from_db()
    assert agent.team == other_team
    assert agent.history.first().history_change_reason == "Moved to finance"


def test_agent_put_requires_the_whole_description(api):
    AgentFactory(slug="ledger-bot")
    response = api.put("/api/v1/agents/ledger-bot/", {"tier": 1})
    assert response.status_code == 400
    fields = {f["field"] for f in response.json()["error"]["fields"]}
    assert fields == {"name", "team"}


def test_agent_put_replaces_the_description(api):
    agent = AgentFactory(slug="ledger-bot")
    response = api.put(
        "/api/v1/agents/ledger-bot/",
        {"name": "Ledger", "team": agent.team.slug, "tier": 3, "description": "Books"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["tier"] == 3
    assert response.json()["description"] == "Books"


def test_agent_status_cannot_be_changed_through_update(api):
    AgentFactory(slug="ledger-bot")
    response = api.patch("/api/v1/agents/ledger-bot/", {"status": "retired"})
    # Unknown input is ignored: status changes only through decisions.
    assert response.status_code == 200
    assert response.json()["status"] == "active"


# --- pacts ------------------------------------------------------------------------


def test_pact_create_list_and_read(api):
    response = api.post(
        "/api/v1/pacts/", {"slug": "refunds", "name": "Refunds", "description": "Money back"}
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["slug"] == "refunds"
    assert created["version_count"] == 0
    assert created["latest_published_number"] is None

    listed = api.get("/api/v1/pacts/").json()["results"]
    assert [p["slug"] for p in listed] == ["refunds"]
    read = api.get(f"/api/v1/pacts/{created['id']}/").json()
    assert read == created
    assert Pact.objects.get(slug="refunds").history.first().history_user == api.api_key.user


def test_pact_version_publish_and_list(api):
    pact = PactFactory(slug="refunds")

    response = api.post(f"/api/v1/pacts/{pact.pk}/versions/", version_body())

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["pact"] == "refunds"
    assert body["number"] == 1
    assert body["state"] == "published"
    assert body["published_at"]
    assert body["freshness_window_seconds"] == 7 * 86400
    [obligation] = body["obligations"]
    assert obligation["metric"] == "task_success_rate"
    assert obligation["comparator"] == "gte"
    assert obligation["window_seconds"] == 86400
    assert obligation["breach_severity"] == "SEV2"
    version = PactVersion.objects.get(pk=body["id"])
    assert version.is_published
    assert version.published_by == api.api_key.user

    second = api.post(f"/api/v1/pacts/{pact.pk}/versions/", version_body(notes="second"))
    assert second.json()["number"] == 2
    listed = api.get(f"/api/v1/pacts/{pact.pk}/versions/").json()["results"]
    assert [v["number"] for v in listed] == [2, 1]
    read = api.get(f"/api/v1/pacts/{pact.pk}/versions/1/").json()
    assert read["notes"] == "first"
    pact_row = api.get(f"/api/v1/pacts/{pact.pk}/").json()
    assert pact_row["version_count"] == 2
    assert pact_row["latest_published_number"] == 2


def test_pact_versions_of_an_unknown_pact_are_404(api):
    response = api.get("/api/v1/pacts/999999/versions/")
    assert response.status_code == 404
    assert response.json()["error"]["fields"][0]["field"] == "pact"


# --- evaluations ------------------------------------------------------------------


def test_evaluation_submit_passing(api):
    agent = AgentFactory()

    response = api.post("/api/v1/evaluations/", evaluation_body(agent, value=0.97))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["verdict"] == "pass"
    assert body["agent"] == agent.slug
    assert body["failures"] == []
    assert isinstance(body["signals"], list)
    assert body["score"]["value"] > 0
    assert body["submitted_by"] == api.api_key.user.username
    [result] = body["results"]
    assert result["metric"] == "task_success_rate"
    assert result["value"] == 0.97
    assert result["passed"] is True
    assert Evaluation.objects.get(pk=body["id"]).evidence_sha256 == "ab" * 32


def test_evaluation_submit_failing_reports_failures(api):
    agent = AgentFactory()
    obligation = agent.pact_version.obligations.get()

    response = api.post("/api/v1/evaluations/", evaluation_body(agent, value=0.5))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["verdict"] == "fail"
    assert body["failed_count"] == 1
    assert body["failures"] == [
        {
            "obligation_id": obligation.pk,
            "metric": "task_success_rate",
            "value": 0.5,
            "comparator": "gte",
            "threshold": 0.9,
            "severity": "SEV3",
        }
    ]
    assert body["results"][0]["passed"] is False


def test_evaluation_submit_names_the_obligation_by_id(api):
    agent = AgentFactory()
    obligation = agent.pact_version.obligations.get()
    body = evaluation_body(agent)
    body["results"][0]["obligation"] = obligation.pk
    response = api.post("/api/v1/evaluations/", body)
    assert response.status_code == 201, response.content
    assert response.json()["results"][0]["obligation"] == obligation.pk


def three_obligation_agent():
    version = PactVersionFactory()
    ObligationFactory(pact_version=version, metric="p95_latency", unit="seconds", comparator="lte")
    ObligationFactory(pact_version=version, metric="refusal_rate", comparator="lt", threshold=0.1)
    return AgentFactory(pact_version=version)


def test_evaluation_reporting_every_obligation_is_stored_with_each_result(api):
    agent = three_obligation_agent()

    response = api.post("/api/v1/evaluations/", evaluation_body(agent))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["verdict"] == "pass"
    assert (body["passed_count"], body["failed_count"]) == (3, 0)
    assert sorted(r["metric"] for r in body["results"]) == [
        "p95_latency",
        "refusal_rate",
        "task_success_rate",
    ]
    assert Evaluation.objects.get(pk=body["id"]).results.count() == 3


def test_evaluation_leaving_out_obligations_is_refused_and_stores_nothing(api):
    agent = three_obligation_agent()
    body = evaluation_body(agent)
    body["results"] = body["results"][:1]

    response = api.post("/api/v1/evaluations/", body)

    error = assert_error(response, 400, field="results")
    assert "p95_latency, refusal_rate" in error["message"]
    assert "task_success_rate" not in error["message"]
    assert not Evaluation.objects.exists()
    assert not EvaluationResult.objects.exists()
    assert not Score.objects.exists()
    stored = Agent.objects.get(pk=agent.pk)
    assert (stored.last_evaluated_at, stored.current_score) == (None, None)


def test_evaluation_signals_come_from_the_registered_provider(api):
    agent = AgentFactory()
    calls = []

    def provider(source_key):
        calls.append(source_key)
        return [{"id": 7, "kind": "pact_breach", "incident": 3}]

    installed = hooks._signals_provider  # escalations' own, put back afterwards
    hooks.register_signals_provider(provider)
    try:
        response = api.post("/api/v1/evaluations/", evaluation_body(agent, value=0.1))
    finally:
        hooks.register_signals_provider(installed)
    body = response.json()
    assert calls == [f"evaluation:{body['id']}"]
    assert body["signals"] == [{"id": 7, "kind": "pact_breach", "incident": 3}]


def test_evaluation_list_filters_and_read(api):
    agent = AgentFactory(slug="refund-bot")
    old = EvaluationFactory(agent=agent, completed_at=timezone.now() - timedelta(days=3))
    failed = EvaluationFactory(agent=agent, verdict="fail", passed_count=0, failed_count=1)
    other = EvaluationFactory()
    EvaluationResultFactory(evaluation=failed, value=0.2, passed=False)

    def ids(query):
        response = api.get(f"/api/v1/evaluations/?{query}")
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["results"]]

    assert ids("") == [other.pk, failed.pk, old.pk]
    assert ids("agent=refund-bot") == [failed.pk, old.pk]
    assert ids("verdict=fail") == [failed.pk]
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"since={since}") == [other.pk, failed.pk]

    read = api.get(f"/api/v1/evaluations/{failed.pk}/").json()
    assert read["verdict"] == "fail"
    assert read["results"] == [
        {
            "obligation": failed.pact_version.obligations.get().pk,
            "metric": "task_success_rate",
            "value": 0.2,
            "label": "",
            "explanation": "",
            "passed": False,
        }
    ]


# --- disputes ---------------------------------------------------------------------


def test_dispute_open_then_replay_then_resolve(api):
    agent = AgentFactory(slug="refund-bot")

    opened = api.post("/api/v1/disputes/", dispute_body(agent))
    assert opened.status_code == 201, opened.content
    body = opened.json()
    assert body["agent"] == "refund-bot"
    assert body["amount"] == "1250.50"
    assert body["currency"] == "EUR"
    assert body["state"] == "open"
    assert body["outcome"] is None
    assert isinstance(body["signals"], list)

    again = api.post("/api/v1/disputes/", dispute_body(agent))
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert Dispute.objects.count() == 1

    resolved = api.post(
        f"/api/v1/disputes/{body['id']}/resolve/",
        {"outcome": "against_agent", "note": "Refund was wrong"},
    )
    assert resolved.status_code == 200, resolved.content
    assert resolved.json()["state"] == "resolved"
    assert resolved.json()["outcome"] == "against_agent"
    assert resolved.json()["resolved_at"]

    conflict = api.post(f"/api/v1/disputes/{body['id']}/resolve/", {"outcome": "settled"})
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "invalid_transition"


def test_dispute_list_filters_and_read(api):
    agent = AgentFactory(slug="refund-bot")
    mine = DisputeFactory(agent=agent)
    DisputeFactory()
    response = api.get("/api/v1/disputes/?agent=refund-bot&state=open")
    assert [r["id"] for r in response.json()["results"]] == [mine.pk]
    read = api.get(f"/api/v1/disputes/{mine.pk}/").json()
    assert read["reference"] == mine.reference
    assert read["counterparty"] == "Acme Payments"


# --- trust keys ---------------------------------------------------------------------


def test_trust_keys_are_public(anonymous):
    response = anonymous.get("/api/v1/trust/keys/")
    assert response.status_code == 200
    [key] = response.json()["keys"]
    assert key["algorithm"] == "Ed25519"
    assert key["key_id"]
    assert len(key["public_key"]) == 43  # 32 bytes, base64url without padding
