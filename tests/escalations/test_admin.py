"""The escalations admin: what operators see, the actions end to end, evidence read-only."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from escalations.choices import IncidentState, NotificationState, SignalKind, TimelineKind
from escalations.models import (
    Control,
    Counterpart,
    Decision,
    Escalation,
    Incident,
    JobHeartbeat,
    LadderSnapshot,
    Notification,
    RiskAcceptance,
    RoutingRule,
    SeverityLevel,
    Signal,
    Silence,
    TimelineEntry,
)
from escalations.services.incidents import incident_assign, incident_decide, incident_resolve
from escalations.services.risk import risk_acceptance_request
from tests.escalations.support import ingest, written
from tests.factories import AgentFactory, TeamFactory, UserFactory
from trust.choices import AgentStatus
from trust.models import Agent

pytestmark = pytest.mark.django_db


# --- helpers --------------------------------------------------------------------------


def url(model, view="changelist", *args):
    return reverse(f"admin:escalations_{model._meta.model_name}_{view}", args=args)


def act(client, model, action, rows, **data):
    """Run a changelist action on ``rows`` and follow the redirect (messages included)."""
    return client.post(
        url(model),
        {"action": action, "_selected_action": [row.pk for row in rows], **data},
        follow=True,
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


@pytest.fixture
def incident(agent, actor):
    return ingest(agent, actor, kind=SignalKind.PACT_BREACH).incident  # SEV3, 1 h to ack


# --- the incident changelist ------------------------------------------------------------


@time_machine.travel(timezone.now(), tick=False)
def test_incident_changelist_shows_agent_team_severity_state_and_what_is_due(admin_client, actor):
    finance = TeamFactory(name="Finance")
    ledger = AgentFactory(slug="ledger-bot", team=finance)
    waiting = ingest(ledger, actor, kind=SignalKind.PACT_BREACH).incident
    late_agent = AgentFactory(slug="refund-bot")
    late = ingest(
        late_agent,
        actor,
        kind=SignalKind.CUSTOM,
        observed_at=timezone.now() - timedelta(hours=5),
        now=timezone.now() - timedelta(hours=4, minutes=20),
    ).incident  # SEV4: acknowledgement was due 20 minutes ago
    ingest(late_agent, actor, kind=SignalKind.CUSTOM)  # joins: two signals
    incident_assign(incident=late, owner=actor, actor=actor)

    content = text(admin_client.get(url(Incident)))

    for expected in ("ledger-bot", "refund-bot", "Finance", "SEV3", "SEV4", f"#{waiting.pk}"):
        assert expected in content
    assert "Open (awaiting acknowledgement)" in content
    assert "acknowledgement due in 1 h" in content
    assert "acknowledgement overdue by 20 min" in content
    assert "color:#c62828" in content  # overdue stands out
    assert "no evidence yet" in content  # the agent's freshness
    rows = {row.pk: row for row in admin_client.get(url(Incident)).context["cl"].result_list}
    assert rows[late.pk].signal_count == 2 and rows[late.pk].owner == actor


def test_incident_changelist_filters_and_search(admin_client, actor):
    finance = TeamFactory(name="Finance")
    mine = ingest(AgentFactory(slug="ledger-bot", team=finance), actor).incident
    other = ingest(
        AgentFactory(slug="refund-bot"),
        actor,
        kind=SignalKind.CUSTOM,
        observed_at=timezone.now() - timedelta(hours=6),
        now=timezone.now() - timedelta(hours=5),
    ).incident  # overdue

    def listed(**query):
        response = admin_client.get(url(Incident), query)
        return {row.pk for row in response.context["cl"].result_list}

    assert listed() == {mine.pk, other.pk}
    assert listed(q="ledger") == {mine.pk}
    assert listed(overdue="yes") == {other.pk}
    assert listed(overdue="no") == {mine.pk}
    assert listed(state__exact="open") == {mine.pk, other.pk}
    assert listed(kind__exact="custom") == {other.pk}
    assert listed(severity__id__exact=mine.severity_id) == {mine.pk}
    assert listed(agent__team__id__exact=finance.pk) == {mine.pk}


def _changelist_queries(client, count: int, actor) -> int:
    owner = UserFactory()
    for _ in range(count):
        incident = ingest(AgentFactory(team=TeamFactory()), actor).incident
        incident_assign(incident=incident, owner=owner, actor=actor)
    client.get(url(Incident))  # warm per-process caches (content types, session)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url(Incident))
    assert len(response.context["cl"].result_list) == Incident.objects.count()
    return len(ctx.captured_queries)


def test_incident_changelist_costs_the_same_queries_for_1_or_50_incidents(admin_client, actor):
    one = _changelist_queries(admin_client, 1, actor)
    fifty = _changelist_queries(admin_client, 49, actor)

    assert fifty == one


def _queries(client, path) -> int:
    client.get(path)  # warm per-process caches (content types, session)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _busy_incident(actor, *, signals: int):
    """An incident with ``signals`` signals, escalated, decided, its messages tried."""
    from escalations.services.incidents import incident_escalate

    agent = AgentFactory(team=TeamFactory())
    incident = ingest(agent, actor).incident
    for _ in range(signals - 1):
        ingest(agent, actor)
    incident_escalate(incident=incident, actor=actor, reason="Slow")
    incident_decide(incident=incident, consequence="monitor", rationale="Watch", actor=actor)
    Notification.objects.filter(incident=incident).update(attempts=2, last_error="Timeout")
    return incident


@pytest.mark.parametrize(
    "model", [Signal, Escalation, Decision, TimelineEntry, Notification], ids=lambda m: m.__name__
)
def test_evidence_changelists_cost_the_same_queries_for_few_or_many_rows(
    admin_client, actor, model
):
    _busy_incident(actor, signals=1)
    few = _queries(admin_client, url(model))
    for _ in range(8):
        _busy_incident(actor, signals=3)

    assert _queries(admin_client, url(model)) == few


def test_the_incident_page_costs_the_same_queries_for_1_or_30_signals(admin_client, actor):
    small = _busy_incident(actor, signals=1)
    big = _busy_incident(actor, signals=30)

    assert _queries(admin_client, url(Incident, "change", big.pk)) == _queries(
        admin_client, url(Incident, "change", small.pk)
    )


# --- the incident page ------------------------------------------------------------------


def test_incident_page_shows_its_whole_record_read_only(admin_client, incident, actor, agent):
    ingest(agent, actor, kind=SignalKind.PACT_BREACH, value=0.71)
    incident_decide(
        incident=incident, consequence="monitor", rationale="Known vendor flake", actor=actor
    )

    content = text(admin_client.get(url(Incident, "change", incident.pk)))

    assert "SEV3" in content and "Decided (awaiting resolution)" in content
    assert "awaiting resolution" in content
    assert "Known vendor flake" in content  # the decision inline
    assert "0.71" in content  # a signal inline
    for kind in ("Opened", "Acknowledged", "Decided", "Notification queued"):
        assert kind in content  # the timeline inline
    notification = incident.notifications.first()
    assert str(notification.counterpart) in content  # the notifications inline
    assert "Product trust owner" in content  # routed to
    assert 'name="_save"' not in content and "deletelink" not in content


def test_incidents_cannot_be_added_changed_or_deleted_here(admin_client, incident):
    before = Incident.objects.values().get(pk=incident.pk)

    assert admin_client.get(url(Incident, "add")).status_code == 403
    assert admin_client.post(url(Incident, "change", incident.pk), {}).status_code == 403
    assert admin_client.get(url(Incident, "delete", incident.pk)).status_code == 403
    response = admin_client.get(url(Incident))
    actions = [name for name, _ in response.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions and "acknowledge_selected" in actions
    assert Incident.objects.values().get(pk=incident.pk) == before


def test_incident_history_page_renders(admin_client, incident, actor):
    incident_decide(incident=incident, consequence="monitor", rationale="Watch it", actor=actor)

    content = text(admin_client.get(url(Incident, "history", incident.pk)))

    assert "Decided: monitor" in content


# --- the incident actions ---------------------------------------------------------------


def test_acknowledge_selected_acknowledges_and_reports_each_row(admin_client, admin_user, actor):
    first = ingest(AgentFactory(), actor).incident
    second = ingest(AgentFactory(), actor).incident

    response = act(admin_client, Incident, "acknowledge_selected", [first, second])

    assert messages_of(response) == [f"Acknowledged: #{first.pk}, #{second.pk}."]
    for incident in (first, second):
        incident.refresh_from_db()
        assert incident.state == IncidentState.ACKNOWLEDGED and incident.owner == admin_user
    again = act(admin_client, Incident, "acknowledge_selected", [first])
    assert messages_of(again) == [f"Already acknowledged: #{first.pk}."]
    assert first.timeline.filter(kind=TimelineKind.ACKNOWLEDGED).count() == 1


def test_decide_selected_asks_for_a_consequence_and_a_rationale(admin_client, incident, agent):
    form_page = act(admin_client, Incident, "decide_selected", [incident])

    content = text(form_page)
    assert "Decide incidents" in content and f"#{incident.pk}" in content
    assert 'name="consequence"' in content and 'name="rationale"' in content
    incident.refresh_from_db()
    assert incident.state == IncidentState.OPEN  # nothing happens before the form is sent

    missing = act(
        admin_client, Incident, "decide_selected", [incident], apply="yes", consequence="suspend"
    )
    assert "This field is required." in text(missing)

    response = act(
        admin_client,
        Incident,
        "decide_selected",
        [incident],
        apply="yes",
        consequence="suspend",
        rationale="Refunds issued without approval",
    )

    assert messages_of(response) == [f"Decided (Suspend): #{incident.pk}."]
    incident.refresh_from_db()
    agent.refresh_from_db()
    assert incident.state == IncidentState.DECIDED
    assert agent.status == AgentStatus.SUSPENDED
    decision = Decision.objects.get(incident=incident)
    assert decision.rationale == "Refunds issued without approval"
    assert decision.actor.username == "root-admin"


def test_decide_selected_reports_refusals_row_by_row(admin_client, actor):
    done = ingest(AgentFactory(), actor).incident
    incident_decide(incident=done, consequence="monitor", rationale="Fine", actor=actor)
    incident_resolve(incident=done, actor=actor)
    fresh = ingest(AgentFactory(), actor).incident

    response = act(
        admin_client,
        Incident,
        "decide_selected",
        [done, fresh],
        apply="yes",
        consequence="require_review",
        rationale="Needs a look",
    )

    assert messages_of(response) == [
        f"#{done.pk}: Incident #{done.pk} is resolved; it cannot be decided.",
        f"Decided (Require review): #{fresh.pk}.",
    ]
    fresh.refresh_from_db()
    assert fresh.state == IncidentState.DECIDED


def test_resolve_selected_resolves_decided_incidents_and_refuses_open_ones(admin_client, actor):
    decided = ingest(AgentFactory(), actor).incident
    incident_decide(incident=decided, consequence="monitor", rationale="Fine", actor=actor)
    still_open = ingest(AgentFactory(), actor).incident

    response = act(admin_client, Incident, "resolve_selected", [decided, still_open])

    messages = messages_of(response)
    assert messages[0].startswith(f"#{still_open.pk}: Incident #{still_open.pk} is open: decide")
    assert messages[1] == f"Resolved: #{decided.pk}."
    decided.refresh_from_db()
    still_open.refresh_from_db()
    assert (decided.state, still_open.state) == ("resolved", "open")


def test_escalate_selected_climbs_one_level_with_a_reason(admin_client, incident, defaults):
    form_page = act(admin_client, Incident, "escalate_selected", [incident])
    assert 'name="reason"' in text(form_page)

    response = act(
        admin_client,
        Incident,
        "escalate_selected",
        [incident],
        apply="yes",
        reason="Customer complaints are piling up",
    )

    assert messages_of(response) == [f"Escalated one level: #{incident.pk}."]
    incident.refresh_from_db()
    assert incident.severity == defaults.levels["SEV2"]
    escalation = Escalation.objects.get(incident=incident)
    assert escalation.reason == "manual"
    assert incident.timeline.get(kind=TimelineKind.ESCALATED_MANUALLY).data["note"] == (
        "Customer complaints are piling up"
    )


def test_escalating_at_the_top_of_the_ladder_is_refused_with_the_reason(admin_client, actor):
    top = ingest(AgentFactory(), actor, kind=SignalKind.PACT_BREACH, severity="SEV1").incident

    response = act(admin_client, Incident, "escalate_selected", [top], apply="yes", reason="More")

    assert messages_of(response) == [
        f"#{top.pk}: Incident #{top.pk} is already at the top of its ladder (SEV1)."
    ]


def test_reroute_selected_routes_to_the_chosen_counterparts_and_tells_the_newcomers(
    admin_client, admin_user, incident, defaults
):
    first = sorted(incident.first_counterparts.values_list("pk", flat=True))
    security = defaults.counterparts["security"]
    assert first and security.pk not in first

    form_page = act(admin_client, Incident, "reroute_selected", [incident])

    content = text(form_page)
    assert "Reroute incidents" in content and f"#{incident.pk}" in content
    assert 'name="counterparts"' in content and 'name="reason"' in content
    assert sorted(form_page.context["form"]["counterparts"].value()) == first  # preselected
    incident.refresh_from_db()
    assert not incident.rerouted  # nothing happens before the form is sent

    response = act(
        admin_client,
        Incident,
        "reroute_selected",
        [incident],
        apply="yes",
        counterparts=[*first, security.pk],
        reason="Looks like account abuse",
    )

    names = ", ".join(
        Counterpart.objects.filter(pk__in=[*first, security.pk])
        .order_by("function", "name")
        .values_list("name", flat=True)
    )
    assert messages_of(response) == [f"Rerouted to {names}: #{incident.pk}."]
    incident.refresh_from_db()
    assert incident.rerouted
    assert sorted(incident.counterparts.values_list("pk", flat=True)) == sorted(
        [*first, security.pk]
    )
    assert sorted(incident.first_counterparts.values_list("pk", flat=True)) == first
    entry = incident.timeline.get(kind=TimelineKind.REROUTED)
    assert entry.actor == admin_user
    assert entry.data["reason"] == "Looks like account abuse"
    assert entry.data["from"] == first and entry.data["to"] == sorted([*first, security.pk])
    history = incident.history.first()
    assert history.history_user == admin_user
    assert history.history_change_reason == "Rerouted: Looks like account abuse"
    told = Notification.objects.filter(incident=incident, event="rerouted")
    assert list(told.values_list("counterpart", flat=True)) == [security.pk]  # newcomers only

    again = act(
        admin_client,
        Incident,
        "reroute_selected",
        [incident],
        apply="yes",
        counterparts=[*first, security.pk],
        reason="Same again",
    )
    assert messages_of(again) == [f"Already routed there: #{incident.pk}."]
    assert incident.timeline.filter(kind=TimelineKind.REROUTED).count() == 1


def test_reroute_without_a_reason_or_a_counterpart_is_refused_on_the_field(
    admin_client, incident, defaults
):
    security = defaults.counterparts["security"]
    inactive = Counterpart.objects.create(
        name="Retired rotation", function="security", email="old@example.com", active=False
    )
    before = written()

    no_reason = act(
        admin_client,
        Incident,
        "reroute_selected",
        [incident],
        apply="yes",
        counterparts=[security.pk],
        reason="  ",
    )
    assert no_reason.context["form"].errors == {"reason": ["This field is required."]}
    assert "Reroute incidents" in text(no_reason)

    nobody = act(
        admin_client, Incident, "reroute_selected", [incident], apply="yes", reason="Wrong team"
    )
    assert nobody.context["form"].errors == {"counterparts": ["Choose at least one counterpart."]}
    assert "Choose at least one counterpart." in text(nobody)

    gone = act(
        admin_client,
        Incident,
        "reroute_selected",
        [incident],
        apply="yes",
        counterparts=[inactive.pk],
        reason="Wrong team",
    )
    assert list(gone.context["form"].errors) == ["counterparts"]

    assert written() == before
    incident.refresh_from_db()
    assert not incident.rerouted


def test_reroute_of_a_resolved_incident_is_refused_with_the_reason(admin_client, actor, defaults):
    done = ingest(AgentFactory(), actor).incident
    incident_decide(incident=done, consequence="monitor", rationale="Fine", actor=actor)
    incident_resolve(incident=done, actor=actor)

    response = act(
        admin_client,
        Incident,
        "reroute_selected",
        [done],
        apply="yes",
        counterparts=[defaults.counterparts["security"].pk],
        reason="Late",
    )

    assert messages_of(response) == [
        f"#{done.pk}: Incident #{done.pk} is resolved; it cannot be rerouted."
    ]
    done.refresh_from_db()
    assert not done.rerouted


def test_a_viewer_cannot_reroute_an_incident(client, incident, defaults):
    from django.contrib.auth.models import Permission

    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_incident"))
    client.force_login(viewer)
    before = written()

    page = client.get(url(Incident, "change", incident.pk))
    assert page.status_code == 200 and page.context["incident_actions"] == []
    act(
        client,
        Incident,
        "reroute_selected",
        [incident],
        apply="yes",
        counterparts=[defaults.counterparts["security"].pk],
        reason="Wrong team",
    )
    client.post(
        url(Incident, "change", incident.pk),
        {
            "action": "reroute_selected",
            "apply": "yes",
            "counterparts": [defaults.counterparts["security"].pk],
            "reason": "Wrong team",
        },
    )

    assert written() == before


def page_actions(response) -> list[str]:
    return [name for name, _ in response.context.get("incident_actions") or []]


def test_the_incident_page_offers_the_actions_its_state_allows(admin_client, incident, actor):
    page = admin_client.get(url(Incident, "change", incident.pk))
    assert page_actions(page) == [
        "acknowledge_selected",
        "assign_to_me_selected",
        "decide_selected",
        "escalate_selected",
        "reroute_selected",
    ]
    assert 'value="Acknowledge"' in text(page) and "Act on this incident" in text(page)
    assert 'value="Reroute…"' in text(page)

    incident_decide(incident=incident, consequence="monitor", rationale="Watch", actor=actor)
    decided = admin_client.get(url(Incident, "change", incident.pk))
    assert page_actions(decided) == ["resolve_selected", "decide_selected", "reroute_selected"]
    incident_resolve(incident=incident, actor=actor)
    resolved = admin_client.get(url(Incident, "change", incident.pk))
    assert page_actions(resolved) == [] and "Act on this incident" not in text(resolved)


def test_acknowledge_from_the_incident_page_comes_back_to_it(admin_client, admin_user, incident):
    page_url = url(Incident, "change", incident.pk)
    response = admin_client.post(page_url, {"action": "acknowledge_selected"})

    assert response.status_code == 302 and response.url == page_url
    incident.refresh_from_db()
    assert incident.state == IncidentState.ACKNOWLEDGED and incident.owner == admin_user
    after = admin_client.get(page_url)
    assert messages_of(after) == [f"Acknowledged: #{incident.pk}."]
    assert "acknowledge_selected" not in page_actions(after)


def test_decide_from_the_incident_page_asks_then_decides_this_incident_only(
    admin_client, incident, agent, actor
):
    other = ingest(AgentFactory(), actor).incident
    page_url = url(Incident, "change", incident.pk)

    form_page = text(admin_client.post(page_url, {"action": "decide_selected"}))
    assert "Decide incidents" in form_page and 'name="rationale"' in form_page
    assert f"#{other.pk}" not in form_page

    # Whatever the form carries, the page acts on its own incident.
    response = admin_client.post(
        page_url,
        {
            "action": "decide_selected",
            "apply": "yes",
            "consequence": "suspend",
            "rationale": "Refunds without approval",
            "_selected_action": [other.pk],
        },
    )

    assert response.status_code == 302 and response.url == page_url
    incident.refresh_from_db()
    other.refresh_from_db()
    agent.refresh_from_db()
    assert incident.state == IncidentState.DECIDED and agent.status == AgentStatus.SUSPENDED
    assert other.state == IncidentState.OPEN
    assert Decision.objects.get(incident=incident).rationale == "Refunds without approval"


def test_reroute_from_the_incident_page_asks_then_reroutes_this_incident_only(
    admin_client, admin_user, incident, actor, defaults
):
    other = ingest(AgentFactory(), actor).incident
    security = defaults.counterparts["security"]
    page_url = url(Incident, "change", incident.pk)

    form_page = text(admin_client.post(page_url, {"action": "reroute_selected"}))
    assert "Reroute incidents" in form_page and 'name="counterparts"' in form_page
    assert f"#{other.pk}" not in form_page

    # Whatever the form carries, the page acts on its own incident.
    response = admin_client.post(
        page_url,
        {
            "action": "reroute_selected",
            "apply": "yes",
            "counterparts": [security.pk],
            "reason": "Security owns this",
            "_selected_action": [other.pk],
        },
    )

    assert response.status_code == 302 and response.url == page_url
    incident.refresh_from_db()
    other.refresh_from_db()
    assert incident.rerouted and list(incident.counterparts.all()) == [security]
    assert not other.rerouted
    after = admin_client.get(page_url)
    assert messages_of(after) == [f"Rerouted to {security.name}: #{incident.pk}."]
    assert "Security owns this" in text(after)  # in the timeline


def test_an_unknown_action_from_the_incident_page_changes_nothing(admin_client, incident):
    page_url = url(Incident, "change", incident.pk)
    response = admin_client.post(page_url, {"action": "delete_selected"}, follow=True)

    assert messages_of(response) == ["No action selected."]
    incident.refresh_from_db()
    assert incident.state == IncidentState.OPEN


def test_take_ownership(admin_client, admin_user, incident):
    response = act(admin_client, Incident, "assign_to_me_selected", [incident])

    assert messages_of(response) == [f"You own: #{incident.pk}."]
    incident.refresh_from_db()
    assert incident.owner == admin_user


# --- evidence: read-only, never deleted ----------------------------------------------------


@pytest.fixture
def record(incident, actor, agent):
    """An incident with a signal, a climb, a decision, timeline rows and a failed message."""
    from escalations.services.incidents import incident_escalate

    incident_escalate(incident=incident, actor=actor, reason="Too slow")
    incident_decide(incident=incident, consequence="monitor", rationale="Watch it", actor=actor)
    failed = incident.notifications.first()
    Notification.objects.filter(pk=failed.pk).update(
        state=NotificationState.FAILED, attempts=6, last_error="Webhook answered 500."
    )
    return incident


EVIDENCE = [Signal, Escalation, Decision, TimelineEntry, Notification]


@pytest.mark.parametrize("model", EVIDENCE, ids=lambda m: m.__name__)
def test_evidence_pages_render_read_only_and_nothing_is_deleted(admin_client, record, model):
    row = model.objects.filter(incident=record).order_by("pk").first()

    changelist = text(admin_client.get(url(model)))
    page = text(admin_client.get(url(model, "change", row.pk)))

    assert f"#{record.pk}" in changelist or str(record.pk) in changelist
    assert 'name="_save"' not in page and "deletelink" not in page
    assert admin_client.post(url(model, "change", row.pk), {}).status_code == 403
    assert admin_client.get(url(model, "delete", row.pk)).status_code == 403
    if model is not Signal:
        assert admin_client.get(url(model, "add")).status_code == 403
    assert model.objects.filter(pk=row.pk).exists()


def test_evidence_changelists_show_what_happened(admin_client, record, agent):
    assert "Too slow" not in text(admin_client.get(url(Escalation)))  # reason is a code
    escalations = text(admin_client.get(url(Escalation)))
    assert "Escalated manually" in escalations and "SEV2" in escalations
    decisions = text(admin_client.get(url(Decision)))
    assert "Monitor (no change)" in decisions and agent.slug in decisions
    timeline = text(admin_client.get(url(TimelineEntry)))
    assert "Escalated manually" in timeline and "Decided" in timeline
    signals = text(admin_client.get(url(Signal)))
    assert agent.slug in signals and "Pact breach" in signals


def rows_of(content: str, incident) -> list[str]:
    """The changelist rows (their HTML) that link to ``incident``."""
    link = f">#{incident.pk}</a>"
    return [row for row in content.split("<tr")[1:] if link in row]


INCIDENT_RECORDS = [Escalation, TimelineEntry, Notification, RiskAcceptance, Signal]


def test_lists_of_an_incidents_records_show_its_severity_and_action_state(
    admin_client, actor, agent
):
    from escalations.services.incidents import incident_escalate

    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        waiting = ingest(agent, actor).incident  # SEV3
        incident_escalate(incident=waiting, actor=actor, reason="Customer-facing")  # SEV2
        risk_acceptance_request(
            incident=waiting,
            rationale="Vendor fix ships Friday",
            expires_at=start + timedelta(days=3),
            actor=actor,
        )
        decided = ingest(AgentFactory(slug="ledger-bot"), actor, kind=SignalKind.CUSTOM).incident
        incident_decide(incident=decided, consequence="monitor", rationale="Watch", actor=actor)
        clock.shift(timedelta(hours=2))

        for model in INCIDENT_RECORDS:
            rows = rows_of(text(admin_client.get(url(model))), waiting)
            assert rows, model.__name__
            for row in rows:
                assert "SEV2" in row, model.__name__
                assert "acknowledgement overdue by 2 h" in row, model.__name__
        decisions = text(admin_client.get(url(Decision)))
        (row,) = rows_of(decisions, decided)
        assert "SEV4" in row and "awaiting resolution" in row
        assert "ledger-bot" in row and "no evidence yet" in row  # the agent's freshness
        decision = Decision.objects.get(incident=decided)
        page = text(admin_client.get(url(Decision, "change", decision.pk)))
        assert "awaiting resolution" in page and "no evidence yet" in page
        for model in INCIDENT_RECORDS:
            row = model.objects.filter(incident=waiting).first()
            page = text(admin_client.get(url(model, "change", row.pk)))
            assert "acknowledgement overdue by 2 h" in page, model.__name__


def test_a_resolved_incident_awaits_nothing_and_a_decision_on_the_agent_has_no_incident(
    admin_client, admin_user, actor, agent
):
    from atoc.center.services.agents import agent_act

    done = ingest(agent, actor).incident
    incident_decide(incident=done, consequence="monitor", rationale="Watch", actor=actor)
    incident_resolve(incident=done, actor=actor)
    agent_act(agent=agent, action="restrict", rationale="Drifting", actor=admin_user)

    for row in rows_of(text(admin_client.get(url(TimelineEntry))), done):
        assert "resolved: nothing awaits" in row
    decisions = text(admin_client.get(url(Decision)))
    (on_agent,) = [row for row in decisions.split("<tr")[1:] if "decided on the agent" in row]
    cells = re.findall(r'<td class="field-(incident_(?:severity|action))">([^<]*)</td>', on_agent)
    assert cells == [("incident_severity", "—"), ("incident_action", "—")]


def _records(model, count: int, actor) -> None:
    """``count`` incidents, each on its own agent, team and owner, with a ``model`` row."""
    from escalations.services.incidents import incident_escalate

    for index in range(count):
        agent = AgentFactory(team=TeamFactory())
        incident = ingest(agent, actor, kind=[SignalKind.PACT_BREACH, SignalKind.CUSTOM][index % 2])
        incident = incident.incident
        incident_assign(incident=incident, owner=UserFactory(), actor=actor)
        if model is Escalation:
            incident_escalate(incident=incident, actor=actor, reason="Slow")
        elif model is Decision:
            incident_decide(incident=incident, consequence="monitor", rationale="W", actor=actor)
        elif model is RiskAcceptance:
            risk_acceptance_request(
                incident=incident,
                rationale="Known",
                expires_at=timezone.now() + timedelta(days=1),
                actor=actor,
            )


@pytest.mark.parametrize(
    "model",
    [Escalation, Decision, TimelineEntry, Notification, RiskAcceptance, Signal],
    ids=lambda m: m.__name__,
)
def test_incident_record_lists_cost_the_same_queries_for_1_or_20_incidents(
    admin_client, actor, model
):
    _records(model, 1, actor)
    one = _queries(admin_client, url(model))
    _records(model, 19, actor)

    many = _queries(admin_client, url(model))

    rows = admin_client.get(url(model)).context["cl"].result_list
    assert len({row.incident_id for row in rows}) == 20
    assert many == one


def test_failed_notifications_stand_out_with_their_error(admin_client, record):
    content = text(admin_client.get(url(Notification)))

    assert "failed after 6 attempts" in content
    assert "Webhook answered 500." in content
    failed = text(admin_client.get(url(Notification), {"state__exact": "failed"}))
    assert failed.count("failed after 6 attempts") == 1


def test_retry_selected_puts_a_failed_notification_back_in_the_outbox(admin_client, record):
    failed = Notification.objects.get(state=NotificationState.FAILED)
    sent = Notification.objects.exclude(pk=failed.pk).first()
    Notification.objects.filter(pk=sent.pk).update(state="sent", sent_at=timezone.now())

    response = act(admin_client, Notification, "retry_selected", [failed, sent])

    messages = messages_of(response)
    assert messages[0].startswith(f"notification #{sent.pk}: Notification #{sent.pk} was sent")
    assert messages[1] == f"Back in the outbox: notification #{failed.pk}."
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == (NotificationState.PENDING, 0)
    retried = TimelineEntry.objects.get(kind=TimelineKind.NOTIFICATION_RETRIED)
    assert retried.actor.username == "root-admin"


def test_a_signal_recorded_in_the_admin_is_ingested_like_any_other(admin_client, agent):
    assert "Observed at" in text(admin_client.get(url(Signal, "add")))

    response = admin_client.post(
        url(Signal, "add"),
        {
            "agent": agent.pk,
            "kind": "incident_flag",
            "observed_at_0": timezone.now().strftime("%d/%m/%Y"),
            "observed_at_1": timezone.now().strftime("%H:%M:%S"),
            "value": "",
            "payload": '{"ticket": "OPS-12"}',
            "idempotency_key": "",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    signal = Signal.objects.get()
    assert signal.source == "admin" and signal.payload == {"ticket": "OPS-12"}
    assert signal.received_by.username == "root-admin"
    assert signal.incident.severity.name == "SEV2"  # the incident_flag control


# --- reference data -------------------------------------------------------------------


REFERENCE = [SeverityLevel, Counterpart, Control, RoutingRule]


@pytest.mark.parametrize("model", REFERENCE, ids=lambda m: m.__name__)
def test_reference_pages_render_and_are_editable_but_not_deleted(admin_client, model):
    row = model.objects.order_by("pk").first()

    changelist = text(admin_client.get(url(model)))
    add = text(admin_client.get(url(model, "add")))
    change = text(admin_client.get(url(model, "change", row.pk)))
    history = text(admin_client.get(url(model, "history", row.pk)))

    assert str(row) in changelist or row.name in changelist
    assert 'name="_save"' in add and 'name="_save"' in change
    assert "deletelink" not in change and history
    assert admin_client.get(url(model, "delete", row.pk)).status_code == 403


def test_the_ladder_shows_its_deadlines(admin_client):
    content = text(admin_client.get(url(SeverityLevel)))

    assert "SEV1" in content and "SEV4" in content
    assert "4 h" in content  # SEV4: acknowledge within 4 hours


def test_a_control_without_owner_or_consequence_is_refused_on_the_field(admin_client, defaults):
    response = admin_client.post(
        url(Control, "add"),
        {
            "name": "Latency",
            "signal_kind": "custom",
            "condition": "{}",
            "opening_severity": defaults.levels["SEV3"].pk,
            "owner": "",
            "consequence": "",
            "review_cadence": "90 00:00:00",
            "enabled": "",
        },
    )

    form = response.context["adminform"].form
    assert "a threshold with no downstream action is not a control" in form.errors["owner"][0]
    assert "needs a consequence" in form.errors["consequence"][0]
    assert not Control.objects.filter(name="Latency").exists()


def test_a_control_edit_is_saved_with_history(admin_client, defaults):
    control = defaults.controls["custom"]
    data = {
        "name": control.name,
        "description": control.description,
        "signal_kind": control.signal_kind,
        "condition": '{"threshold": 3}',
        "opening_severity": control.opening_severity_id,
        "owner": control.owner_id,
        "consequence": "require_review",
        "review_cadence": "30 00:00:00",
        "enabled": "on",
    }

    response = admin_client.post(url(Control, "change", control.pk), data)

    assert response.status_code == 302
    control.refresh_from_db()
    assert control.threshold == 3 and control.consequence == "require_review"
    assert control.history.first().history_user.username == "root-admin"


def test_a_counterpart_needs_a_way_to_reach_it(admin_client):
    response = admin_client.post(
        url(Counterpart, "add"),
        {"name": "Nobody", "function": "platform", "kind": "person", "webhook_format": "atoc"},
    )

    assert response.status_code == 200
    assert not Counterpart.objects.filter(name="Nobody").exists()
    assert "counterpart_reachable" in str(response.context["adminform"].form.errors)


def test_rotating_a_webhook_secret(admin_client, defaults):
    counterpart = defaults.counterparts["platform"]
    old = counterpart.webhook_secret

    response = act(admin_client, Counterpart, "rotate_webhook_secret_selected", [counterpart])

    counterpart.refresh_from_db()
    assert counterpart.webhook_secret != old and len(counterpart.webhook_secret) == 64
    assert "New webhook secrets for Platform on-call" in messages_of(response)[0]


def test_a_silence_is_created_through_the_service(admin_client, admin_user, agent):
    assert 'name="reason"' in text(admin_client.get(url(Silence, "add")))
    start = timezone.now()
    end = start + timedelta(hours=2)

    response = admin_client.post(
        url(Silence, "add"),
        {
            "agent": agent.pk,
            "starts_at_0": start.strftime("%d/%m/%Y"),
            "starts_at_1": start.strftime("%H:%M:%S"),
            "ends_at_0": end.strftime("%d/%m/%Y"),
            "ends_at_1": end.strftime("%H:%M:%S"),
            "recurrence": "none",
            "reason": "Model upgrade",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    silence = Silence.objects.get()
    assert silence.created_by == admin_user and silence.reason == "Model upgrade"
    content = text(admin_client.get(url(Silence)))
    assert agent.slug in content and "Model upgrade" in content
    assert text(admin_client.get(url(Silence, "change", silence.pk)))


def test_ladder_snapshots_and_heartbeats_are_read_only_pages(admin_client, incident):
    JobHeartbeat.objects.create(
        job="escalations.promote_overdue",
        last_started_at=timezone.now() - timedelta(minutes=10),
        last_finished_at=timezone.now() - timedelta(minutes=10),
        runs=4,
        last_result={"promoted": 2},
    )
    snapshot = LadderSnapshot.objects.get()

    snapshots = text(admin_client.get(url(LadderSnapshot)))
    beats = text(admin_client.get(url(JobHeartbeat)))
    beat = JobHeartbeat.objects.get()
    page = text(admin_client.get(url(JobHeartbeat, "change", beat.pk)))

    assert "SEV4" in snapshots and snapshot.digest[:12] in snapshots
    assert "late: not run for 10 min (every 1 min)" in beats
    assert "&quot;promoted&quot;: 2" in page
    assert admin_client.get(url(LadderSnapshot, "add")).status_code == 403
    assert admin_client.get(url(JobHeartbeat, "delete", beat.pk)).status_code == 403


# --- risk acceptances -------------------------------------------------------------------


def test_a_risk_acceptance_is_requested_here_and_approved_by_someone_else(
    admin_client, admin_user, incident, other_actor
):
    expires = timezone.now() + timedelta(days=3)
    response = admin_client.post(
        url(RiskAcceptance, "add"),
        {
            "incident": incident.pk,
            "rationale": "Vendor fix ships Friday",
            "expires_at_0": expires.strftime("%d/%m/%Y"),
            "expires_at_1": expires.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    acceptance = RiskAcceptance.objects.get()
    assert acceptance.requested_by == admin_user

    refused = act(admin_client, RiskAcceptance, "approve_selected", [acceptance])
    assert messages_of(refused)[-1:] == [
        f"risk acceptance #{acceptance.pk}: A risk acceptance must be approved by someone "
        "other than its requester."
    ]

    admin_client.force_login(UserFactory(username="approver", is_superuser=True))
    approved = act(admin_client, RiskAcceptance, "approve_selected", [acceptance])
    assert messages_of(approved) == [f"Approved: risk acceptance #{acceptance.pk}."]
    acceptance.refresh_from_db()
    assert acceptance.state == "approved"
    assert "Vendor fix ships Friday" in text(
        admin_client.get(url(RiskAcceptance, "change", acceptance.pk))
    )


def test_a_risk_acceptance_is_rejected_with_a_reason(admin_client, incident, actor):
    acceptance = risk_acceptance_request(
        incident=incident,
        rationale="Low impact",
        expires_at=timezone.now() + timedelta(days=1),
        actor=actor,
    )
    assert 'name="reason"' in text(
        act(admin_client, RiskAcceptance, "reject_selected", [acceptance])
    )

    response = act(
        admin_client,
        RiskAcceptance,
        "reject_selected",
        [acceptance],
        apply="yes",
        reason="Impact is not low",
    )

    assert messages_of(response) == [f"Rejected: risk acceptance #{acceptance.pk}."]
    acceptance.refresh_from_db()
    assert (acceptance.state, acceptance.closing_note) == ("rejected", "Impact is not low")


def test_the_agent_page_is_unaffected_by_decisions_made_here(admin_client, incident, agent):
    act(
        admin_client,
        Incident,
        "decide_selected",
        [incident],
        apply="yes",
        consequence="restrict_autonomy",
        rationale="Too many refunds",
    )

    agent = Agent.objects.get(pk=agent.pk)
    assert agent.status == AgentStatus.RESTRICTED
    content = text(admin_client.get(reverse("admin:trust_agent_change", args=[agent.pk])))
    assert "Restricted" in content
