"""The trust admin: pages render what an operator needs, writes go through services."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    AgentFactory,
    ObligationFactory,
    PactFactory,
    PactVersionFactory,
    TeamFactory,
)
from trust import handoff
from trust.choices import AgentStatus, DisputeOutcome, DisputeState, PactVersionState
from trust.models import (
    Agent,
    Component,
    Dispute,
    Evaluation,
    Obligation,
    Pact,
    PactVersion,
    Score,
    Team,
)
from trust.services.disputes import dispute_open
from trust.services.evaluations import evaluation_submit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def announced(monkeypatch):
    """Events the trust services hand off, captured instead of sent.

    These tests follow the admin down to the trust services; what escalations does
    with a hand-off is tested with escalations.
    """
    events = []
    monkeypatch.setattr(handoff, "announce", events.append)
    return events


# --- helpers --------------------------------------------------------------------------


def url(model, view, *args):
    return reverse(f"admin:trust_{model._meta.model_name}_{view}", args=args)


def evaluate(agent, actor, *, value=0.95, completed_at=None):
    """Submit an evaluation of the agent's only obligation through the service."""
    completed_at = completed_at or timezone.now() - timedelta(minutes=5)
    return evaluation_submit(
        agent=agent,
        pact_version=agent.pact_version,
        evaluator="nightly-suite",
        evaluator_kind="code",
        independent=True,
        suite="regression",
        started_at=completed_at - timedelta(minutes=10),
        completed_at=completed_at,
        results=[{"obligation": "task_success_rate", "value": value, "label": "ok"}],
        actor=actor,
    ).evaluation


def open_dispute(agent, actor, reference, amount="1200.00"):
    return dispute_open(
        agent=agent,
        reference=reference,
        counterparty="Acme Payments",
        amount=Decimal(amount),
        currency="EUR",
        actor=actor,
    )


def management(prefix, total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def obligation_row(index, *, prefix="obligations", **values):
    row = {
        "metric": "task_success_rate",
        "description": "",
        "unit": "ratio",
        "comparator": "gte",
        "threshold": "0.9",
        "window": "1 00:00:00",
        "breach_severity": "SEV3",
        **values,
    }
    return {f"{prefix}-{index}-{key}": value for key, value in row.items()}


def agent_change_data(agent, **overrides):
    data = {
        "name": agent.name,
        "team": str(agent.team_id),
        "tier": str(agent.tier),
        "description": agent.description,
        "components": "",
        "pact_version": str(agent.pact_version_id or ""),
        "change_reason": "Routine update",
    }
    data.update(overrides)
    return data


def errors_of(response, field=None):
    """The errors of the main admin form (on ``field``, or all of them)."""
    form = response.context["adminform"].form
    return form.errors.get(field, []) if field else form.errors


def inline_errors(response, index=0):
    return response.context["inline_admin_formsets"][index].formset.errors


def count_queries(client, path):
    client.get(path)  # warm per-process caches (content types, sessions)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries)


# --- every page renders ---------------------------------------------------------------


def test_agent_changelist_shows_freshness_and_read_fields(admin_client, actor):
    now = timezone.now()
    fresh = AgentFactory(slug="refund-bot", team=TeamFactory(name="Customer Operations"))
    evaluate(fresh, actor)
    stale = AgentFactory(slug="ledger-bot", team=TeamFactory(name="Finance"))
    Agent.objects.filter(pk=stale.pk).update(
        evaluation_due_at=now - timedelta(days=3, hours=2),
        last_evaluated_at=now - timedelta(days=10, hours=2),
        current_score=412,
        open_incident_count=2,
        highest_open_severity="SEV2",
        highest_open_severity_rank=3,
    )
    AgentFactory(slug="new-bot")

    response = admin_client.get(url(Agent, "changelist"))

    assert response.status_code == 200
    content = response.content.decode()
    for text in ("refund-bot", "ledger-bot", "new-bot", "Customer Operations", "Finance"):
        assert text in content
    assert "fresh (due in 7 d)" in content
    assert "stale (overdue 3 d)" in content
    assert "no evidence yet" in content
    assert "SEV2" in content and "412" in content
    assert str(fresh.pact_version) in content
    assert "Supervised" in content and "Live" in content and "Active" in content


def test_agent_changelist_filters_stale_agents(admin_client):
    stale = AgentFactory(slug="stale-bot")
    Agent.objects.filter(pk=stale.pk).update(evaluation_due_at=timezone.now() - timedelta(hours=5))
    AgentFactory(slug="waiting-bot")

    response = admin_client.get(url(Agent, "changelist"), {"freshness": "stale"})

    assert response.status_code == 200
    content = response.content.decode()
    assert "stale-bot" in content
    assert "stale (overdue 5 h)" in content
    assert "waiting-bot" not in content


def test_team_changelist_shows_agent_and_stale_counts(admin_client):
    finance = TeamFactory(name="Finance")
    AgentFactory.create_batch(3, team=finance)
    Agent.objects.filter(team=finance).order_by("pk").filter(
        pk__in=Agent.objects.filter(team=finance).order_by("pk").values("pk")[:2]
    ).update(evaluation_due_at=timezone.now() - timedelta(days=1))
    TeamFactory(name="Engineering")

    response = admin_client.get(url(Team, "changelist"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Finance" in content and "Engineering" in content
    assert "2 stale" in content
    rows = {team.name: team for team in response.context["cl"].result_list}
    assert rows["Finance"].agent_count == 3
    assert rows["Finance"].stale_count == 2
    assert rows["Engineering"].agent_count == 0


def test_component_changelist_shows_agent_count(admin_client, actor):
    from trust.services.agents import agent_create

    team = TeamFactory()
    agent_create(slug="a1", name="A1", team=team, tier=2, components=["gpt-4o"], actor=actor)
    agent_create(slug="a2", name="A2", team=team, tier=2, components=["gpt-4o"], actor=actor)

    response = admin_client.get(url(Component, "changelist"))

    assert response.status_code == 200
    assert "gpt-4o" in response.content.decode()
    assert response.context["cl"].result_list[0].agent_count == 2


def test_pact_and_version_changelists_show_versions(admin_client):
    version = PactVersionFactory(pact=PactFactory(slug="support-pact", name="Support pact"))
    PactVersionFactory(pact=version.pact, state=PactVersionState.DRAFT, published_at=None)
    AgentFactory(pact_version=version)

    pacts = admin_client.get(url(Pact, "changelist"))
    versions = admin_client.get(url(PactVersion, "changelist"))

    assert pacts.status_code == 200 and versions.status_code == 200
    assert "Support pact" in pacts.content.decode()
    assert f"v{version.number}" in pacts.content.decode()
    content = versions.content.decode()
    assert f"support-pact v{version.number}" in content
    assert "Draft" in content and "Published" in content
    assert "7 d" in content  # the freshness window
    row = next(v for v in versions.context["cl"].result_list if v.pk == version.pk)
    assert (row.obligation_count, row.agent_count) == (1, 1)


def test_obligation_changelist_shows_clauses(admin_client):
    ObligationFactory(metric="refund_accuracy", threshold=0.97)

    response = admin_client.get(url(Obligation, "changelist"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "refund_accuracy" in content and "0.97" in content


def test_evaluation_and_score_changelists_show_evidence(admin_client, actor, agent):
    evaluation = evaluate(agent, actor, value=0.5)

    evaluations = admin_client.get(url(Evaluation, "changelist"))
    scores = admin_client.get(url(Score, "changelist"))

    assert evaluations.status_code == 200 and scores.status_code == 200
    content = evaluations.content.decode()
    assert agent.slug in content and "nightly-suite" in content and "Fail" in content
    assert "0/1 (0%)" in content
    score = Score.objects.get(agent=agent)
    assert agent.slug in scores.content.decode()
    assert f"Evaluation #{evaluation.pk}" in scores.content.decode()
    assert str(score.value) in scores.content.decode()


def test_dispute_changelist_shows_amount_at_stake(admin_client, actor, agent):
    open_dispute(agent, actor, "SET-1001", amount="12500.00")

    response = admin_client.get(url(Dispute, "changelist"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "SET-1001" in content and "12,500.00 EUR" in content and agent.slug in content


@pytest.mark.parametrize("model", [Team, Component, Agent, Pact, PactVersion, Obligation, Dispute])
def test_add_pages_render(admin_client, model):
    response = admin_client.get(url(model, "add"))

    assert response.status_code == 200
    assert response.context["adminform"].form.fields  # a form with inputs


@pytest.mark.parametrize("model", [Evaluation, Score])
def test_evidence_cannot_be_added_in_the_admin(admin_client, model):
    assert admin_client.get(url(model, "add")).status_code == 403


def test_change_pages_render_with_their_values(admin_client, actor):
    agent = AgentFactory(slug="claims-bot", team=TeamFactory(name="Claims"))
    evaluation = evaluate(agent, actor)
    dispute = open_dispute(agent, actor, "SET-7")
    component = Component.objects.create(name="claude-sonnet")
    pages = {
        url(Team, "change", agent.team_id): ["Claims"],
        url(Component, "change", component.pk): ["claude-sonnet"],
        url(Agent, "change", agent.pk): ["claims-bot", "fresh", "Operating state"],
        url(Pact, "change", agent.pact_version.pact_id): [agent.pact_version.pact.name],
        url(PactVersion, "change", agent.pact_version_id): ["task_success_rate"],
        url(Obligation, "change", agent.pact_version.obligations.get().pk): ["task_success_rate"],
        url(Evaluation, "change", evaluation.pk): ["nightly-suite", "task_success_rate"],
        url(Score, "change", Score.objects.get(agent=agent).pk): ["evidence_rate"],
        url(Dispute, "change", dispute.pk): ["SET-7", "Acme Payments", "Resolve"],
    }
    for path, texts in pages.items():
        response = admin_client.get(path)
        assert response.status_code == 200, path
        for text in texts:
            assert text in response.content.decode(), (path, text)


# --- agents: writes through services ---------------------------------------------------


def test_agent_add_registers_through_the_service(admin_client, admin_user):
    team = TeamFactory()
    version = PactVersionFactory()
    data = {
        "slug": "payout-bot",
        "name": "Payout bot",
        "team": str(team.pk),
        "tier": "1",
        "description": "Pays out refunds",
        "components": "gpt-4o, openai,  stripe-api ,",
        "pact_version": str(version.pk),
        "status": "active",
        "autonomy": "supervised",
        "routing": "shadow",
        "change_reason": "",
    }

    response = admin_client.post(url(Agent, "add"), data)

    assert response.status_code == 302
    agent = Agent.objects.get(slug="payout-bot")
    assert agent.routing == "shadow" and agent.tier == 1
    assert agent.pact_version == version and agent.evaluation_due_at is not None
    assert sorted(agent.components.values_list("name", flat=True)) == [
        "gpt-4o",
        "openai",
        "stripe-api",
    ]
    record = agent.history.earliest()
    assert record.history_user == admin_user
    assert record.history_change_reason == "Agent registered"


def test_agent_add_refuses_a_duplicate_slug_on_the_slug_field(admin_client):
    existing = AgentFactory(slug="dup-bot")
    data = {
        "slug": "dup-bot",
        "name": "Another",
        "team": str(existing.team_id),
        "tier": "2",
        "status": "active",
        "autonomy": "supervised",
        "routing": "live",
    }

    response = admin_client.post(url(Agent, "add"), data)

    assert response.status_code == 200
    assert errors_of(response, "slug")
    assert Agent.objects.filter(slug="dup-bot").count() == 1


def test_agent_change_updates_through_services_and_history_shows_actor_and_reason(
    admin_client, admin_user
):
    agent = AgentFactory(slug="triage-bot")
    other_team = TeamFactory(name="Engineering")
    newer = PactVersionFactory(pact=agent.pact_version.pact)
    data = agent_change_data(
        agent,
        name="Triage bot v2",
        team=str(other_team.pk),
        components="gpt-4o, pagerduty",
        pact_version=str(newer.pk),
        change_reason="Moved to engineering after reorg",
    )

    response = admin_client.post(url(Agent, "change", agent.pk), data)

    assert response.status_code == 302, errors_of(response)
    agent.refresh_from_db()
    assert agent.name == "Triage bot v2" and agent.team == other_team
    assert agent.pact_version == newer
    assert set(agent.components.values_list("name", flat=True)) == {"gpt-4o", "pagerduty"}

    history = admin_client.get(url(Agent, "history", agent.pk))

    assert history.status_code == 200
    content = history.content.decode()
    assert "Moved to engineering after reorg" in content
    assert admin_user.username in content


def test_agent_change_needs_a_reason(admin_client, agent):
    response = admin_client.post(
        url(Agent, "change", agent.pk), agent_change_data(agent, name="X", change_reason="")
    )

    assert response.status_code == 200
    assert errors_of(response, "change_reason")


def test_agent_change_shows_a_service_refusal_on_the_pact_version_field(admin_client, agent):
    draft = PactVersionFactory(state=PactVersionState.DRAFT, published_at=None)
    data = agent_change_data(agent, name="Renamed", pact_version=str(draft.pk))

    response = admin_client.post(url(Agent, "change", agent.pk), data)

    assert response.status_code == 200
    assert any("draft" in e for e in errors_of(response, "pact_version"))
    agent.refresh_from_db()
    assert agent.name != "Renamed"  # the whole submission was rolled back
    assert agent.pact_version_id != draft.pk


def test_agent_operating_state_is_read_only_in_the_change_form(admin_client, agent):
    data = agent_change_data(agent, status="suspended", autonomy="none", routing="blocked")

    page = admin_client.get(url(Agent, "change", agent.pk))
    response = admin_client.post(url(Agent, "change", agent.pk), data)

    assert 'name="status"' not in page.content.decode()
    assert response.status_code == 302
    agent.refresh_from_db()
    assert (agent.status, agent.autonomy, agent.routing) == (
        AgentStatus.ACTIVE,
        "supervised",
        "live",
    )


def test_team_add_goes_through_the_service(admin_client, admin_user):
    response = admin_client.post(
        url(Team, "add"), {"slug": "finance", "name": "Finance", "description": "Money"}
    )

    assert response.status_code == 302
    team = Team.objects.get(slug="finance")
    assert team.history.get().history_user == admin_user


# --- pact versions and obligations ----------------------------------------------------------


def pact_version_add_data(pact, *rows, **overrides):
    data = {
        "pact": str(pact.pk),
        "freshness_window": "7 00:00:00",
        "review_cadence": "30 00:00:00",
        "notes": "",
        **management("obligations", total=len(rows)),
    }
    for index, row in enumerate(rows):
        data.update(obligation_row(index, **row))
    data.update(overrides)
    return data


def test_pact_version_add_drafts_the_next_version_with_its_obligations(admin_client, admin_user):
    pact = PactFactory(slug="refunds")
    PactVersionFactory(pact=pact, number=1)
    data = pact_version_add_data(
        pact,
        {"metric": "refund_accuracy"},
        {"metric": "p95_latency", "unit": "seconds", "comparator": "lte", "threshold": "30"},
    )

    response = admin_client.post(url(PactVersion, "add"), data)

    assert response.status_code == 302, (errors_of(response), inline_errors(response))
    version = PactVersion.objects.get(pact=pact, number=2)
    assert version.state == PactVersionState.DRAFT
    assert set(version.obligations.values_list("metric", flat=True)) == {
        "refund_accuracy",
        "p95_latency",
    }
    assert version.history.earliest().history_user == admin_user


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"comparator": "lt", "threshold": "0"}, "threshold"),  # could never pass
        ({"comparator": "gte", "threshold": "1.5"}, "threshold"),  # a ratio is at most 1
        ({"unit": "count", "comparator": "gte", "threshold": "-2"}, "threshold"),
        ({"window": "0"}, "window"),
        ({"window": "-1 00:00:00"}, "window"),
    ],
)
def test_pact_version_add_refuses_a_bad_obligation_on_its_field(admin_client, row, field):
    pact = PactFactory()

    response = admin_client.post(url(PactVersion, "add"), pact_version_add_data(pact, row))

    assert response.status_code == 200
    assert inline_errors(response)[0].get(field), inline_errors(response)
    assert not PactVersion.objects.filter(pact=pact).exists()


@pytest.mark.parametrize("window", ["0", "-2 00:00:00"])
def test_pact_version_add_refuses_a_window_that_is_not_positive(admin_client, window):
    pact = PactFactory()
    data = pact_version_add_data(pact, {}, freshness_window=window)

    response = admin_client.post(url(PactVersion, "add"), data)

    assert response.status_code == 200
    assert errors_of(response, "freshness_window") == ["Must be a positive duration."]
    assert not PactVersion.objects.filter(pact=pact).exists()


def draft_change_data(version, *extra_rows, **overrides):
    existing = list(version.obligations.order_by("pk"))
    data = {
        "freshness_window": "7 00:00:00",
        "review_cadence": "30 00:00:00",
        "notes": version.notes,
        **management("obligations", total=len(existing) + len(extra_rows), initial=len(existing)),
    }
    for index, obligation in enumerate(existing):
        data.update(
            obligation_row(
                index,
                id=str(obligation.pk),
                pact_version=str(version.pk),
                metric=obligation.metric,
                threshold=f"{obligation.threshold:g}",
            )
        )
    for offset, row in enumerate(extra_rows, start=len(existing)):
        data.update(obligation_row(offset, pact_version=str(version.pk), **row))
    data.update(overrides)
    return data


def test_draft_version_change_edits_and_adds_obligations_through_services(admin_client):
    version = PactVersionFactory(state=PactVersionState.DRAFT, published_at=None)
    data = draft_change_data(version, {"metric": "csat", "threshold": "0.8"}, notes="Stricter")
    data["obligations-0-threshold"] = "0.95"

    response = admin_client.post(url(PactVersion, "change", version.pk), data)

    assert response.status_code == 302, (errors_of(response), inline_errors(response))
    version.refresh_from_db()
    assert version.notes == "Stricter"
    assert dict(version.obligations.values_list("metric", "threshold")) == {
        "task_success_rate": 0.95,
        "csat": 0.8,
    }


def test_published_version_change_page_is_read_only(admin_client):
    version = PactVersionFactory()

    response = admin_client.get(url(PactVersion, "change", version.pk))

    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="freshness_window"' not in content
    assert 'name="obligations-0-threshold"' not in content
    assert 'name="_save"' not in content
    assert "task_success_rate" in content


def test_editing_a_published_version_is_refused_on_the_changed_field(admin_client):
    version = PactVersionFactory()
    data = draft_change_data(version, freshness_window="1 00:00:00")

    response = admin_client.post(url(PactVersion, "change", version.pk), data)

    assert response.status_code == 200
    assert any("published" in e for e in errors_of(response, "freshness_window"))
    version.refresh_from_db()
    assert version.freshness_window == timedelta(days=7)


def test_editing_an_obligation_of_a_published_version_is_refused(admin_client):
    version = PactVersionFactory()
    data = draft_change_data(version)
    data["obligations-0-threshold"] = "0.5"

    response = admin_client.post(url(PactVersion, "change", version.pk), data)

    assert response.status_code == 200
    assert any("published" in e for e in inline_errors(response)[0]["threshold"])
    assert version.obligations.get().threshold == 0.9


def test_publish_selected_publishes_drafts_and_reports_each_row(admin_client, admin_user):
    ready = PactVersionFactory(state=PactVersionState.DRAFT, published_at=None)
    empty = PactVersionFactory(state=PactVersionState.DRAFT, published_at=None, obligation=None)
    done = PactVersionFactory()

    response = admin_client.post(
        url(PactVersion, "changelist"),
        {"action": "publish_selected", "_selected_action": [ready.pk, empty.pk, done.pk]},
        follow=True,
    )

    assert response.status_code == 200
    ready.refresh_from_db()
    empty.refresh_from_db()
    assert ready.state == PactVersionState.PUBLISHED and ready.published_by == admin_user
    assert empty.state == PactVersionState.DRAFT
    notes = [str(m) for m in response.context["messages"]]
    assert f"Published {ready}." in notes
    assert any(str(empty) in n and "at least one obligation" in n for n in notes)
    assert f"{done}: already published." in notes


def test_obligation_add_refuses_a_published_version(admin_client):
    version = PactVersionFactory()
    data = {"pact_version": str(version.pk), **obligation_row(0, metric="csat")}
    data = {key.removeprefix("obligations-0-"): value for key, value in data.items()}

    response = admin_client.post(url(Obligation, "add"), data)

    assert response.status_code == 200
    assert any("published" in e for e in errors_of(response, "pact_version"))
    assert not version.obligations.filter(metric="csat").exists()


def test_obligation_add_to_a_draft_and_threshold_checked_against_comparator(admin_client):
    draft = PactVersionFactory(state=PactVersionState.DRAFT, published_at=None)
    base = {key.removeprefix("obligations-0-"): v for key, v in obligation_row(0).items()}
    bad = {
        **base,
        "pact_version": str(draft.pk),
        "metric": "csat",
        "comparator": "gt",
        "threshold": "1",
    }

    refused = admin_client.post(url(Obligation, "add"), bad)
    accepted = admin_client.post(
        url(Obligation, "add"), {**bad, "comparator": "gte", "threshold": "0.8"}
    )

    assert refused.status_code == 200
    assert any("never pass" in e for e in errors_of(refused, "threshold"))
    assert accepted.status_code == 302
    assert draft.obligations.filter(metric="csat", threshold=0.8).exists()


# --- disputes ---------------------------------------------------------------------------------


def dispute_add_data(agent, **overrides):
    opened = timezone.localtime() - timedelta(minutes=1)
    return {
        "agent": str(agent.pk),
        "reference": "SET-42",
        "counterparty": "Acme Payments",
        "amount": "950.00",
        "currency": "eur",
        "description": "",
        "opened_at_0": opened.strftime("%Y-%m-%d"),
        "opened_at_1": opened.strftime("%H:%M:%S"),
        **overrides,
    }


def test_dispute_add_opens_it_through_the_service(admin_client, admin_user, agent, announced):
    response = admin_client.post(url(Dispute, "add"), dispute_add_data(agent))

    assert response.status_code == 302, errors_of(response)
    dispute = Dispute.objects.get(reference="SET-42")
    assert (dispute.currency, dispute.state, dispute.opened_by) == ("EUR", "open", admin_user)
    assert dispute.history.get().history_change_reason == "Dispute opened"
    assert [(e.kind, e.data["dispute_id"]) for e in announced] == [
        (handoff.DISPUTE_OPENED, dispute.pk)
    ]


@pytest.mark.parametrize(
    ("field", "value"), [("amount", "0"), ("amount", "-5"), ("currency", "E1")]
)
def test_dispute_add_refuses_bad_input_on_its_field(admin_client, agent, field, value):
    response = admin_client.post(url(Dispute, "add"), dispute_add_data(agent, **{field: value}))

    assert response.status_code == 200
    assert errors_of(response, field)
    assert not Dispute.objects.exists()


def test_resolve_selected_asks_for_an_outcome_then_resolves(admin_client, admin_user, actor):
    first, second = AgentFactory(), AgentFactory()
    disputes = [open_dispute(first, actor, "SET-1"), open_dispute(second, actor, "SET-2")]
    selection = {"action": "resolve_selected", "_selected_action": [d.pk for d in disputes]}

    form = admin_client.post(url(Dispute, "changelist"), selection)
    done = admin_client.post(
        url(Dispute, "changelist"),
        {**selection, "apply": "yes", "outcome": "settled", "note": "Refunded half"},
        follow=True,
    )

    assert form.status_code == 200
    assert "SET-1" in form.content.decode() and 'name="outcome"' in form.content.decode()
    assert done.status_code == 200
    for dispute in disputes:
        dispute.refresh_from_db()
        assert (dispute.state, dispute.outcome) == (DisputeState.RESOLVED, "settled")
        assert dispute.resolved_by == admin_user and dispute.resolution_note == "Refunded half"
    assert "Resolved SET-1, SET-2." in [str(m) for m in done.context["messages"]]


def test_resolve_view_resolves_one_dispute_and_refuses_a_second_outcome(admin_client, actor, agent):
    dispute = open_dispute(agent, actor, "SET-9")
    path = url(Dispute, "resolve", dispute.pk)

    page = admin_client.get(path)
    resolved = admin_client.post(path, {"outcome": DisputeOutcome.AGAINST_AGENT, "note": "Lost"})
    refused = admin_client.post(path, {"outcome": DisputeOutcome.FOR_AGENT})

    assert page.status_code == 200 and "SET-9" in page.content.decode()
    assert resolved.status_code == 302
    dispute.refresh_from_db()
    assert dispute.outcome == DisputeOutcome.AGAINST_AGENT
    assert refused.status_code == 200
    assert refused.context["form"].errors["outcome"]
    dispute.refresh_from_db()
    assert dispute.outcome == DisputeOutcome.AGAINST_AGENT


def test_an_opened_dispute_is_only_viewed(admin_client, actor, agent):
    dispute = open_dispute(agent, actor, "SET-3")

    page = admin_client.get(url(Dispute, "change", dispute.pk))
    post = admin_client.post(url(Dispute, "change", dispute.pk), {"counterparty": "Someone else"})

    assert 'name="counterparty"' not in page.content.decode()
    assert post.status_code == 403
    dispute.refresh_from_db()
    assert dispute.counterparty == "Acme Payments"


# --- evidence is read-only; nothing is deleted --------------------------------------------------


def test_evaluation_change_page_has_no_inputs_and_post_changes_nothing(admin_client, actor, agent):
    evaluation = evaluate(agent, actor)
    path = url(Evaluation, "change", evaluation.pk)

    page = admin_client.get(path)
    post = admin_client.post(path, {"evaluator": "forged", "verdict": "fail"})

    content = page.content.decode()
    assert page.status_code == 200
    assert "nightly-suite" in content and "task_success_rate" in content and "0.95" in content
    for marker in ('name="evaluator"', "<textarea", "<select", 'name="_save"', "results-0-value"):
        assert marker not in content
    assert post.status_code == 403
    evaluation.refresh_from_db()
    assert (evaluation.evaluator, evaluation.verdict) == ("nightly-suite", "pass")


def test_score_change_page_has_no_inputs_and_post_changes_nothing(admin_client, actor, agent):
    evaluate(agent, actor)
    score = Score.objects.get(agent=agent)
    path = url(Score, "change", score.pk)

    page = admin_client.get(path)
    post = admin_client.post(path, {"value": "1000", "reason": "forged"})

    assert page.status_code == 200
    content = page.content.decode()
    assert 'name="value"' not in content and 'name="_save"' not in content
    assert "staleness_factor" in content
    assert post.status_code == 403
    score.refresh_from_db()
    assert score.reason != "forged"


def every_record(actor):
    agent = AgentFactory()
    evaluation = evaluate(agent, actor)
    return {
        Team: agent.team,
        Component: Component.objects.create(name="gpt-4o"),
        Agent: agent,
        Pact: agent.pact_version.pact,
        PactVersion: agent.pact_version,
        Obligation: agent.pact_version.obligations.get(),
        Evaluation: evaluation,
        Score: Score.objects.get(agent=agent),
        Dispute: open_dispute(agent, actor, "SET-DEL"),
    }


def test_nothing_can_be_deleted(admin_client, actor):
    for model, obj in every_record(actor).items():
        assert admin_client.get(url(model, "delete", obj.pk)).status_code == 403, model
        assert admin_client.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
        changelist = admin_client.get(url(model, "changelist"))
        assert changelist.status_code == 200
        assert "delete_selected" not in changelist.content.decode(), model
        assert model.objects.filter(pk=obj.pk).exists()


def test_bulk_delete_action_is_refused(admin_client):
    agent = AgentFactory()

    admin_client.post(
        url(Agent, "changelist"), {"action": "delete_selected", "_selected_action": [agent.pk]}
    )

    assert Agent.objects.filter(pk=agent.pk).exists()


def test_history_cannot_be_reverted(admin_client, agent):
    record = agent.history.earliest()
    path = reverse("admin:trust_agent_simple_history", args=[agent.pk, record.history_id])

    assert admin_client.post(path, {"name": "Reverted"}).status_code == 403


# --- changelists do a bounded number of queries ---------------------------------------------


def _agents(n):
    return AgentFactory.create_batch(n)


def _teams(n):
    for team in TeamFactory.create_batch(n):
        AgentFactory(team=team)


def _evaluations(n, actor):
    for agent in AgentFactory.create_batch(n):
        evaluate(agent, actor)


def _disputes(n, actor):
    for index, agent in enumerate(AgentFactory.create_batch(n)):
        open_dispute(agent, actor, f"SET-Q{index}-{agent.pk}")


def _versions(n):
    for version in PactVersionFactory.create_batch(n):
        AgentFactory(pact_version=version)


def _components(n):
    for index in range(n):
        component = Component.objects.create(name=f"tool-{Component.objects.count()}-{index}")
        AgentFactory().components.add(component)


@pytest.mark.parametrize(
    ("model", "make"),
    [
        (Agent, lambda n, actor: _agents(n)),
        (Team, lambda n, actor: _teams(n)),
        (Evaluation, _evaluations),
        (Score, _evaluations),
        (Dispute, _disputes),
        (PactVersion, lambda n, actor: _versions(n)),
        (Pact, lambda n, actor: _versions(n)),
        (Obligation, lambda n, actor: _versions(n)),
        (Component, lambda n, actor: _components(n)),
    ],
    ids=[
        "agent",
        "team",
        "evaluation",
        "score",
        "dispute",
        "pactversion",
        "pact",
        "obligation",
        "component",
    ],
)
def test_changelist_queries_do_not_grow_with_rows(
    admin_client, actor, django_assert_max_num_queries, model, make
):
    path = url(model, "changelist")
    make(1, actor)
    with_one_row = count_queries(admin_client, path)
    make(49, actor)

    with django_assert_max_num_queries(with_one_row):
        response = admin_client.get(path)

    assert len(response.context["cl"].result_list) >= 50


# --- reference data, autocomplete ---------------------------------------------------------


def test_pact_add_goes_through_the_service_and_team_edit_keeps_history(admin_client, admin_user):
    team = TeamFactory(name="Finance")

    added = admin_client.post(
        url(Pact, "add"), {"slug": "payouts", "name": "Payouts pact", **management("versions")}
    )
    changed = admin_client.post(
        url(Team, "change", team.pk), {"name": "Finance & Treasury", "description": "Money"}
    )

    assert added.status_code == 302 and changed.status_code == 302
    assert Pact.objects.get(slug="payouts").history.get().history_user == admin_user
    history = admin_client.get(url(Team, "history", team.pk)).content.decode()
    assert "Team details changed in the admin" in history and admin_user.username in history
    team.refresh_from_db()
    assert team.name == "Finance & Treasury" and team.slug.startswith("team-")


def test_pact_version_autocomplete_offers_agents_only_published_versions(admin_client):
    pact = PactFactory(slug="support")
    published = PactVersionFactory(pact=pact)
    draft = PactVersionFactory(pact=pact, state=PactVersionState.DRAFT, published_at=None)
    query = {"app_label": "trust", "field_name": "pact_version", "term": "support"}

    for_agents = admin_client.get(reverse("admin:autocomplete"), {**query, "model_name": "agent"})
    for_obligations = admin_client.get(
        reverse("admin:autocomplete"), {**query, "model_name": "obligation"}
    )

    assert [r["id"] for r in for_agents.json()["results"]] == [str(published.pk)]
    assert [r["id"] for r in for_obligations.json()["results"]] == [str(draft.pk)]


def test_obligation_of_a_published_version_is_only_viewed(admin_client):
    obligation = ObligationFactory()

    response = admin_client.get(url(Obligation, "change", obligation.pk))

    assert response.status_code == 200
    content = response.content.decode()
    assert "task_success_rate" in content
    assert 'name="threshold"' not in content and 'name="_save"' not in content
