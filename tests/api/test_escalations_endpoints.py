"""The escalations endpoints: what each answers, and what it writes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from escalations.api import hooks as escalation_hooks
from escalations.choices import IncidentState, TimelineKind
from escalations.models import Control, Counterpart, Incident, RoutingRule, SeverityLevel, Signal
from escalations.services.signals import signal_ingest
from tests.api.support import assert_error, evaluation_body, signal_body
from tests.factories import AgentFactory, ObligationFactory, TeamFactory, UserFactory
from trust.choices import AgentAutonomy, AgentStatus

pytestmark = pytest.mark.django_db

INCIDENT_FIELDS = {
    *("id", "agent", "kind", "severity", "state", "opened_at", "ack_due_at"),
    *("acknowledged_at", "decision_due_at", "decided_at", "resolved_at", "owner"),
    *("counterparts", "signal_count", "systemic_issue"),
}


@pytest.fixture(autouse=True)
def _ladder(ladder):
    """Every test here runs with the default ladder, controls and routing."""


def open_incident(agent, *, key="seed-1", kind="pact_breach", **extra) -> Incident:
    outcome = signal_ingest(
        agent=agent,
        kind=kind,
        observed_at=timezone.now() - timedelta(minutes=5),
        source="seed",
        idempotency_key=key,
        actor=UserFactory(username="seeder"),
        **extra,
    )
    return outcome.incident


# --- signals --------------------------------------------------------------------------


def test_post_one_signal_opens_an_incident_and_answers_its_id(api):
    agent = AgentFactory(slug="refund-bot")

    response = api.post("/api/v1/signals/", signal_body(agent))

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "incident", "suppressed"}
    signal = Signal.objects.get()
    incident = Incident.objects.get()
    assert body == {"id": signal.pk, "incident": incident.pk, "suppressed": False}
    assert (signal.agent, signal.kind, signal.value) == (agent, "pact_breach", 0.42)
    assert (signal.source, signal.idempotency_key) == ("eval-runner", "sig-1")
    assert signal.payload == {"run": "sig-1"}
    assert signal.received_by == api.api_key.user
    assert (incident.agent, incident.state, incident.severity.name) == (agent, "open", "SEV3")


def test_a_second_signal_joins_the_open_incident(api):
    agent = AgentFactory()
    first = api.post("/api/v1/signals/", signal_body(agent, key="a")).json()
    second = api.post("/api/v1/signals/", signal_body(agent, key="b")).json()
    assert second["incident"] == first["incident"]
    assert second["id"] != first["id"]
    assert Incident.objects.get().signal_count == 2


def test_post_a_list_answers_a_list_in_the_same_order(api):
    one, two = AgentFactory(), AgentFactory()
    items = [
        signal_body(one, key="k1"),
        signal_body(two, key="k2", kind="custom", value=None),
        signal_body(one, key="k3"),
    ]

    response = api.post("/api/v1/signals/", items)

    assert response.status_code == 201, response.content
    results = response.json()
    signals = {s.idempotency_key: s for s in Signal.objects.all()}
    assert [r["id"] for r in results] == [signals[k].pk for k in ("k1", "k2", "k3")]
    assert results[0]["incident"] == results[2]["incident"] == signals["k1"].incident_id
    assert results[1]["incident"] == signals["k2"].incident_id != results[0]["incident"]
    assert signals["k2"].value is None


def test_replay_of_the_same_signal_is_200_with_the_first_result(api):
    agent = AgentFactory()
    body = signal_body(agent)
    first = api.post("/api/v1/signals/", body)
    replay = api.post("/api/v1/signals/", body)
    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json() == first.json()
    assert Signal.objects.count() == 1
    assert Incident.objects.get().signal_count == 1


def test_replay_after_the_incident_was_resolved_still_answers_the_first_incident(api, actor):
    agent = AgentFactory()
    body = signal_body(agent)
    first = api.post("/api/v1/signals/", body).json()
    incident_id = first["incident"]
    api.post(
        f"/api/v1/incidents/{incident_id}/decide/", {"consequence": "monitor", "rationale": "x"}
    )
    api.post(f"/api/v1/incidents/{incident_id}/resolve/", {})
    replay = api.post("/api/v1/signals/", body)
    assert replay.status_code == 200
    assert replay.json() == first
    assert Incident.objects.count() == 1


def test_same_key_with_a_different_body_is_422_and_writes_nothing(api):
    agent = AgentFactory()
    api.post("/api/v1/signals/", signal_body(agent))
    response = api.post("/api/v1/signals/", signal_body(agent, value=0.99))
    assert_error(response, 422, code="idempotency_conflict", field="idempotency_key")
    assert Signal.objects.get().value == 0.42


def test_the_same_key_from_another_source_is_another_signal(api):
    agent = AgentFactory()
    api.post("/api/v1/signals/", signal_body(agent))
    response = api.post("/api/v1/signals/", signal_body(agent, source="other-runner"))
    assert response.status_code == 201
    assert Signal.objects.count() == 2


def test_a_signal_no_control_acts_on_is_stored_without_incident(api):
    Control.objects.filter(signal_kind="custom").update(enabled=False)
    agent = AgentFactory()
    response = api.post("/api/v1/signals/", signal_body(agent, kind="custom"))
    assert response.status_code == 201
    assert response.json()["incident"] is None
    assert not Incident.objects.exists()


def test_signal_list_shows_every_field_newest_first(api):
    agent = AgentFactory(slug="refund-bot")
    api.post("/api/v1/signals/", signal_body(agent, key="old"))
    api.post("/api/v1/signals/", signal_body(agent, key="new", payload={"n": [1, 2]}))

    results = api.get("/api/v1/signals/").json()["results"]

    assert [r["idempotency_key"] for r in results] == ["new", "old"]
    newest = results[0]
    signal = Signal.objects.get(idempotency_key="new")
    assert newest == {
        "id": signal.pk,
        "agent": "refund-bot",
        "kind": "pact_breach",
        "observed_at": newest["observed_at"],
        "value": 0.42,
        "source": "eval-runner",
        "idempotency_key": "new",
        "payload": {"n": [1, 2]},
        "pact": agent.pact_version.pact_id,
        "received_at": newest["received_at"],
        "incident": signal.incident_id,
        "suppressed": False,
    }
    assert api.get(f"/api/v1/signals/{signal.pk}/").json() == newest


def test_signal_list_filters(api):
    one, two = AgentFactory(slug="one"), AgentFactory(slug="two")
    long_ago = (timezone.now() - timedelta(days=3)).isoformat()
    api.post("/api/v1/signals/", signal_body(one, key="a"))
    api.post("/api/v1/signals/", signal_body(two, key="b", kind="custom", source="platform"))
    api.post("/api/v1/signals/", signal_body(one, key="c", observed_at=long_ago))

    def keys(query):
        response = api.get("/api/v1/signals/", query)
        assert response.status_code == 200, response.content
        return sorted(r["idempotency_key"] for r in response.json()["results"])

    assert keys({"agent": "one"}) == ["a", "c"]
    assert keys({"kind": "custom"}) == ["b"]
    assert keys({"source": "platform"}) == ["b"]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert keys({"since": since}) == ["a", "b"]
    assert keys({"agent": "one", "since": since}) == ["a"]


def test_signal_list_pages_with_a_cursor(api):
    agent = AgentFactory()
    for n in range(5):
        api.post("/api/v1/signals/", signal_body(agent, key=f"k{n}"))
    first = api.get("/api/v1/signals/", {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    assert [r["idempotency_key"] for r in first["results"]] == ["k4", "k3"]
    assert [r["idempotency_key"] for r in second["results"]] == ["k2", "k1"]


def test_unknown_signal_is_a_json_404(api):
    assert_error(api.get("/api/v1/signals/999999/"), 404)


# --- incidents -------------------------------------------------------------------------


def test_incident_shows_exactly_the_documented_fields(api):
    agent = AgentFactory(slug="refund-bot")
    incident = open_incident(agent)

    results = api.get("/api/v1/incidents/").json()["results"]

    assert len(results) == 1
    row = results[0]
    assert set(row) == INCIDENT_FIELDS
    routed = sorted(incident.counterparts.all(), key=lambda c: c.name)
    assert row == {
        "id": incident.pk,
        "agent": "refund-bot",
        "kind": "pact_breach",
        "severity": "SEV3",
        "state": "open",
        "opened_at": row["opened_at"],
        "ack_due_at": row["ack_due_at"],
        "acknowledged_at": None,
        "decision_due_at": None,
        "decided_at": None,
        "resolved_at": None,
        "owner": None,
        "counterparts": [{"id": c.pk, "name": c.name, "function": c.function} for c in routed],
        "signal_count": 1,
        "systemic_issue": None,
    }
    assert routed
    assert row["ack_due_at"] > row["opened_at"]
    assert api.get(f"/api/v1/incidents/{incident.pk}/").json() == row


def test_incident_list_filters(api):
    ops, finance = TeamFactory(slug="ops"), TeamFactory(slug="finance")
    a = open_incident(AgentFactory(slug="a-bot", team=ops), key="1")
    b = open_incident(AgentFactory(slug="b-bot", team=finance), key="2", kind="incident_flag")
    c = open_incident(AgentFactory(slug="c-bot", team=finance), key="3")
    api.post(f"/api/v1/incidents/{c.pk}/acknowledge/", {})
    Incident.objects.filter(pk=a.pk).update(ack_due_at=timezone.now() - timedelta(minutes=1))

    def ids(query):
        response = api.get("/api/v1/incidents/", query)
        assert response.status_code == 200, response.content
        return sorted(r["id"] for r in response.json()["results"])

    assert ids({"state": "open"}) == sorted([a.pk, b.pk])
    assert ids({"state": "acknowledged"}) == [c.pk]
    assert ids({"severity": "SEV2"}) == [b.pk]
    assert ids({"severity": "SEV3"}) == sorted([a.pk, c.pk])
    assert ids({"agent": "b-bot"}) == [b.pk]
    assert ids({"team": "finance"}) == sorted([b.pk, c.pk])
    assert ids({"kind": "incident_flag"}) == [b.pk]
    assert ids({"overdue": "true"}) == [a.pk]
    assert ids({"overdue": "false"}) == sorted([b.pk, c.pk])
    assert ids({"state": "open", "team": "finance", "severity": "SEV2"}) == [b.pk]
    assert ids({"severity": "SEV9"}) == []


def test_systemic_issue_comes_from_the_centers_provider(reader, monkeypatch):
    """Whatever the center registers (restored afterwards by monkeypatch)."""
    agent = AgentFactory()
    linked, alone = open_incident(agent, key="1"), open_incident(agent, key="2", kind="custom")
    calls = []

    def provider(incident_ids):
        calls.append(incident_ids)
        return {linked.pk: 77}

    monkeypatch.setattr(escalation_hooks, "_systemic_issue_provider", None)
    escalation_hooks.register_systemic_issue_provider(provider)
    rows = reader.get("/api/v1/incidents/").json()["results"]
    detail = reader.get(f"/api/v1/incidents/{linked.pk}/").json()
    assert {r["id"]: r["systemic_issue"] for r in rows} == {linked.pk: 77, alone.pk: None}
    assert detail["systemic_issue"] == 77
    assert calls == [sorted([linked.pk, alone.pk]), [linked.pk]]


def test_acknowledge_answers_the_acknowledged_incident(api):
    incident = open_incident(AgentFactory())

    response = api.post(f"/api/v1/incidents/{incident.pk}/acknowledge/", {"note": "on it"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "acknowledged"
    assert body["acknowledged_at"] is not None
    assert body["decision_due_at"] is not None
    assert body["owner"] == api.api_key.user.username
    incident.refresh_from_db()
    assert incident.state == IncidentState.ACKNOWLEDGED
    entry = incident.timeline.get(kind=TimelineKind.ACKNOWLEDGED)
    assert (entry.actor, entry.data) == (api.api_key.user, {"note": "on it"})
    assert incident.history.first().history_change_reason == "on it"


def test_acknowledge_without_a_body_is_fine_and_twice_is_a_no_op(api):
    incident = open_incident(AgentFactory())
    first = api.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    again = api.post(f"/api/v1/incidents/{incident.pk}/acknowledge/", {})
    assert first.status_code == again.status_code == 200
    assert again.json()["acknowledged_at"] == first.json()["acknowledged_at"]
    assert incident.timeline.filter(kind=TimelineKind.ACKNOWLEDGED).count() == 1


def test_decide_applies_the_consequence_to_the_agent(api):
    agent = AgentFactory()
    incident = open_incident(agent)

    response = api.post(
        f"/api/v1/incidents/{incident.pk}/decide/",
        {"consequence": "restrict_autonomy", "rationale": "Refunds doubled"},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "decided"
    assert body["decided_at"] is not None
    assert body["acknowledged_at"] is not None  # deciding an open incident acknowledges it
    agent.refresh_from_db()
    assert agent.status == AgentStatus.RESTRICTED
    assert agent.autonomy == AgentAutonomy.HUMAN_IN_LOOP
    decision = incident.decisions.get()
    assert (decision.consequence, decision.rationale) == ("restrict_autonomy", "Refunds doubled")
    assert decision.actor == api.api_key.user


def test_deciding_again_differently_is_409_with_the_reason(api):
    incident = open_incident(AgentFactory())
    api.post(
        f"/api/v1/incidents/{incident.pk}/decide/", {"consequence": "monitor", "rationale": "x"}
    )
    response = api.post(
        f"/api/v1/incidents/{incident.pk}/decide/", {"consequence": "suspend", "rationale": "y"}
    )
    error = assert_error(response, 409, code="invalid_transition", field="consequence")
    assert "already decided" in error["message"]
    assert incident.decisions.count() == 1


def test_resolve_a_decided_incident(api):
    incident = open_incident(AgentFactory())
    api.post(
        f"/api/v1/incidents/{incident.pk}/decide/", {"consequence": "monitor", "rationale": "x"}
    )
    response = api.post(f"/api/v1/incidents/{incident.pk}/resolve/", {"note": "fixed upstream"})
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "resolved"
    assert response.json()["resolved_at"] is not None
    assert incident.timeline.get(kind=TimelineKind.RESOLVED).data == {"note": "fixed upstream"}


def test_resolving_an_open_incident_is_409_with_the_reason(api):
    incident = open_incident(AgentFactory())
    error = assert_error(api.post(f"/api/v1/incidents/{incident.pk}/resolve/", {}), 409)
    assert "decide it" in error["message"]
    incident.refresh_from_db()
    assert incident.state == IncidentState.OPEN


def test_escalate_climbs_one_level(api):
    incident = open_incident(AgentFactory())
    response = api.post(f"/api/v1/incidents/{incident.pk}/escalate/", {"reason": "customer VIP"})
    assert response.status_code == 200, response.content
    assert response.json()["severity"] == "SEV2"
    escalation = incident.escalations.get()
    assert (escalation.reason, escalation.actor) == ("manual", api.api_key.user)


def test_escalate_at_the_top_is_409(api):
    incident = open_incident(AgentFactory(), kind="incident_flag")  # opens at SEV2
    api.post(f"/api/v1/incidents/{incident.pk}/escalate/", {"reason": "worse"})
    response = api.post(f"/api/v1/incidents/{incident.pk}/escalate/", {"reason": "worse still"})
    error = assert_error(response, 409, field="severity")
    assert "top of its ladder" in error["message"]


def test_escalate_retried_with_an_idempotency_key_climbs_once(api):
    incident = open_incident(AgentFactory())
    path = f"/api/v1/incidents/{incident.pk}/escalate/"
    first = api.post(path, {"reason": "VIP"}, HTTP_IDEMPOTENCY_KEY="esc-1")
    retry = api.post(path, {"reason": "VIP"}, HTTP_IDEMPOTENCY_KEY="esc-1")
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert incident.escalations.count() == 1


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("decide", {"consequence": "monitor"}, "rationale"),
        ("decide", {"consequence": "monitor", "rationale": "   "}, "rationale"),
        ("decide", {"consequence": "banish", "rationale": "x"}, "consequence"),
        ("escalate", {}, "reason"),
        ("escalate", {"reason": "\n"}, "reason"),
        ("acknowledge", {"note": 5}, "note"),
        ("resolve", {"note": "x", "by": "me"}, "by"),
    ],
)
def test_incident_action_bodies_are_checked(api, action, body, field):
    incident = open_incident(AgentFactory())
    response = api.post(f"/api/v1/incidents/{incident.pk}/{action}/", body)
    assert_error(response, 400, field=field)
    incident.refresh_from_db()
    assert incident.state == IncidentState.OPEN


def test_action_on_an_unknown_incident_is_404(api):
    assert_error(api.post("/api/v1/incidents/999999/acknowledge/", {}), 404)


# --- the trust API sees escalations through its hooks ----------------------------------


def test_trust_statement_lists_the_open_incidents(api):
    agent = AgentFactory()
    incident = open_incident(agent)
    statement = api.get(f"/api/v1/agents/{agent.slug}/trust/").json()
    assert statement["open_incidents"] == [{"id": incident.pk, "severity": "SEV3", "state": "open"}]


def test_evaluation_answers_the_signals_it_raised(api):
    agent = AgentFactory()
    response = api.post("/api/v1/evaluations/", evaluation_body(agent, value=0.2))
    assert response.status_code == 201, response.content
    signal = Signal.objects.get()
    assert response.json()["signals"] == [
        {"id": signal.pk, "kind": "pact_breach", "incident": signal.incident_id}
    ]
    assert signal.incident_id is not None


def test_evaluation_leaving_out_an_obligation_raises_no_signal(api):
    agent = AgentFactory()
    ObligationFactory(pact_version=agent.pact_version, metric="p95_latency", unit="seconds")
    body = evaluation_body(agent, value=0.2)
    body["results"] = body["results"][:1]

    response = api.post("/api/v1/evaluations/", body)

    error = assert_error(response, 400, field="results")
    assert "p95_latency" in error["message"]
    assert not Signal.objects.exists()
    assert not Incident.objects.exists()


# --- reference data --------------------------------------------------------------------


def test_severity_levels_list_the_ladder_lowest_first(api):
    results = api.get("/api/v1/severity-levels/").json()["results"]
    assert [r["name"] for r in results] == ["SEV4", "SEV3", "SEV2", "SEV1"]
    sev1 = results[-1]
    level = SeverityLevel.objects.get(name="SEV1")
    assert sev1 == {
        "id": level.pk,
        "name": "SEV1",
        "rank": 4,
        "description": level.description,
        "ack_deadline_seconds": 300,
        "decision_deadline_seconds": 3600,
        "notify_functions": level.notify_functions,
        "leadership_visible": True,
        "automatic_consequence": "restrict_autonomy",
        "reminders": {
            "max": level.max_reminders,
            "interval_seconds": int(level.reminder_interval.total_seconds()),
        },
    }
    assert results[0]["automatic_consequence"] is None
    assert api.get(f"/api/v1/severity-levels/{level.pk}/").json() == sev1


def test_create_and_replace_a_severity_level(api):
    body = {
        "name": "SEV0",
        "rank": 5,
        "description": "Company-wide",
        "ack_deadline_seconds": 120,
        "decision_deadline_seconds": 1800,
        "notify_functions": ["platform", "leadership"],
        "leadership_visible": True,
        "automatic_consequence": "suspend",
        "reminders": {"max": 3, "interval_seconds": 600},
        "reason": "Board asked for a critical level",
    }
    response = api.post("/api/v1/severity-levels/", body)
    assert response.status_code == 201, response.content
    level = SeverityLevel.objects.get(name="SEV0")
    assert response.json()["reminders"] == {"max": 3, "interval_seconds": 600}
    assert level.ack_deadline == timedelta(minutes=2)
    assert level.automatic_consequence == "suspend"
    record = level.history.get()
    assert (record.history_user, record.history_change_reason) == (
        api.api_key.user,
        "Board asked for a critical level",
    )

    replaced = api.put(
        f"/api/v1/severity-levels/{level.pk}/",
        {**body, "ack_deadline_seconds": 60, "reminders": None, "reason": ""},
    )
    assert replaced.status_code == 200, replaced.content
    level.refresh_from_db()
    assert level.ack_deadline == timedelta(minutes=1)
    assert (level.max_reminders, level.reminder_interval) == (0, None)
    assert level.history.first().history_change_reason == "Severity level updated through the API"


def test_a_taken_rank_or_name_is_409_on_the_field(api):
    body = {"name": "SEV0", "rank": 4, "ack_deadline_seconds": 60, "decision_deadline_seconds": 60}
    assert_error(api.post("/api/v1/severity-levels/", body), 409, field="rank")
    body = {**body, "name": "SEV1", "rank": 9}
    assert_error(api.post("/api/v1/severity-levels/", body), 409, field="name")
    assert SeverityLevel.objects.count() == 4


def test_controls_show_owner_condition_and_consequence(api):
    results = api.get("/api/v1/controls/").json()["results"]
    by_kind = {r["signal_kind"]: r for r in results}
    control = Control.objects.get(signal_kind="score_drop")
    assert by_kind["score_drop"] == {
        "id": control.pk,
        "name": "Score drop",
        "description": control.description,
        "signal_kind": "score_drop",
        "condition": {"threshold": 100.0},
        "opening_severity": "SEV3",
        "owner": {
            "id": control.owner_id,
            "name": control.owner.name,
            "function": control.owner.function,
        },
        "consequence": "require_review",
        "review_cadence_seconds": int(control.review_cadence.total_seconds()),
        "last_reviewed_at": None,
        "enabled": True,
        "created_at": by_kind["score_drop"]["created_at"],
    }
    assert by_kind["pact_breach"]["condition"] == {"threshold": None}


def control_body(**overrides) -> dict:
    owner = Counterpart.objects.get(name="Security on-call")
    body = {
        "name": "Latency breach",
        "signal_kind": "custom",
        "condition": {"threshold": 2.5},
        "opening_severity": "SEV2",
        "owner": owner.pk,
        "consequence": "reroute",
        "review_cadence_seconds": 30 * 86400,
        "enabled": False,
    }
    body.update(overrides)
    return body


def test_create_and_replace_a_control(api):
    response = api.post("/api/v1/controls/", control_body())
    assert response.status_code == 201, response.content
    control = Control.objects.get(name="Latency breach")
    assert response.json()["condition"] == {"threshold": 2.5}
    assert control.condition == {"threshold": 2.5}
    assert control.opening_severity.name == "SEV2"
    assert control.owner.name == "Security on-call"
    assert control.review_cadence == timedelta(days=30)
    assert control.history.get().history_user == api.api_key.user

    response = api.put(f"/api/v1/controls/{control.pk}/", control_body(condition={}))
    assert response.status_code == 200, response.content
    control.refresh_from_db()
    assert control.condition == {}


@pytest.mark.parametrize("missing", ["owner", "consequence"])
def test_a_control_without_owner_or_consequence_is_refused_naming_the_field(api, missing):
    body = control_body()
    del body[missing]
    assert_error(api.post("/api/v1/controls/", body), 400, field=missing)
    assert not Control.objects.filter(name="Latency breach").exists()


def test_control_references_must_exist(api):
    assert_error(api.post("/api/v1/controls/", control_body(owner=999999)), 404, field="owner")
    body = control_body(opening_severity="SEV9")
    assert_error(api.post("/api/v1/controls/", body), 404, field="opening_severity")


def test_a_second_enabled_control_for_a_kind_is_409(api):
    response = api.post("/api/v1/controls/", control_body(enabled=True))
    assert_error(response, 409, code="conflict", field="enabled")


def test_counterparts_never_show_the_webhook_secret(api):
    counterpart = Counterpart.objects.get(name="Security on-call")
    Counterpart.objects.filter(pk=counterpart.pk).update(webhook_url="https://hooks.example.com/x")
    response = api.get("/api/v1/counterparts/")
    assert counterpart.webhook_secret not in response.content.decode()
    row = next(r for r in response.json()["results"] if r["id"] == counterpart.pk)
    assert row == {
        "id": counterpart.pk,
        "name": "Security on-call",
        "function": "security",
        "kind": counterpart.kind,
        "team": None,
        "email": counterpart.email,
        "webhook_url": "https://hooks.example.com/x",
        "webhook_format": "atoc",
        "active": True,
        "created_at": row["created_at"],
    }
    detail = api.get(f"/api/v1/counterparts/{counterpart.pk}/")
    assert "secret" not in detail.content.decode()


def test_create_and_replace_a_counterpart(api):
    TeamFactory(slug="payments")
    body = {
        "name": "Payments on-call",
        "function": "finance",
        "kind": "rotation",
        "team": "payments",
        "webhook_url": "https://hooks.example.com/payments",
        "webhook_format": "slack",
    }
    response = api.post("/api/v1/counterparts/", body)
    assert response.status_code == 201, response.content
    assert "secret" not in response.content.decode()
    counterpart = Counterpart.objects.get(name="Payments on-call")
    assert counterpart.team.slug == "payments"
    assert len(counterpart.webhook_secret) == 64  # generated, kept for signing

    body = {**body, "email": "payments@example.com", "team": None}
    response = api.put(f"/api/v1/counterparts/{counterpart.pk}/", body)
    assert response.status_code == 200, response.content
    assert response.json()["team"] is None
    counterpart.refresh_from_db()
    assert counterpart.email == "payments@example.com"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "X", "function": "finance"}, 400, "email"),
        ({"name": "X", "function": "finance", "email": "not an email"}, 400, "email"),
        ({"name": "X", "function": "finance", "webhook_url": "ftp://x.example.com"}, 400, None),
        (
            {"name": "X", "function": "finance", "email": "x@example.com", "team": "nope"},
            404,
            "team",
        ),
        (
            {"name": "Security on-call", "function": "security", "email": "s@example.com"},
            409,
            "name",
        ),
    ],
)
def test_bad_counterparts_are_refused(api, body, status, field):
    before = Counterpart.objects.count()
    assert_error(api.post("/api/v1/counterparts/", body), status, field=field)
    assert Counterpart.objects.count() == before


def test_create_and_replace_a_routing_rule(api):
    TeamFactory(slug="payments")
    security = Counterpart.objects.get(name="Security on-call")
    finance = Counterpart.objects.get(name="Finance controller")
    body = {
        "name": "Payments SEV2 to security",
        "order": 5,
        "kind": "incident_flag",
        "team": "payments",
        "tier": 1,
        "min_severity": "SEV2",
        "counterparts": [security.pk, finance.pk],
    }
    response = api.post("/api/v1/routing-rules/", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["counterparts"] == [
        {"id": finance.pk, "name": finance.name, "function": "finance"},
        {"id": security.pk, "name": security.name, "function": "security"},
    ]
    assert (data["kind"], data["team"], data["tier"], data["min_severity"]) == (
        "incident_flag",
        "payments",
        1,
        "SEV2",
    )
    assert data["is_default"] is False
    rule = RoutingRule.objects.get(name="Payments SEV2 to security")
    assert set(rule.counterparts.all()) == {security, finance}

    body = {"name": "Payments SEV2 to security", "counterparts": [security.pk]}
    response = api.put(f"/api/v1/routing-rules/{rule.pk}/", body)
    assert response.status_code == 200, response.content
    assert (response.json()["kind"], response.json()["team"], response.json()["tier"]) == (
        None,
        None,
        None,
    )
    assert list(rule.counterparts.all()) == [security]


def test_the_default_rule_takes_no_criteria(api):
    default = RoutingRule.objects.get(is_default=True)
    body = {"name": default.name, "kind": "custom", "counterparts": []}
    assert_error(api.put(f"/api/v1/routing-rules/{default.pk}/", body), 409, field="kind")
    default.refresh_from_db()
    assert default.kind == ""


def test_routing_rule_counterparts_must_exist(api):
    body = {"name": "R", "counterparts": [999999]}
    assert_error(api.post("/api/v1/routing-rules/", body), 404, field="counterparts")
    assert not RoutingRule.objects.filter(name="R").exists()


def test_reference_lists_are_paged_by_cursor(api):
    page = api.get("/api/v1/severity-levels/", {"page_size": 2}).json()
    assert [r["name"] for r in page["results"]] == ["SEV4", "SEV3"]
    rest = api.get(page["next"]).json()
    assert [r["name"] for r in rest["results"]] == ["SEV2", "SEV1"]
