"""Operators limited to some teams act in the admin on those teams' rows only.

Another team's rows are refused (on the form's field, or row by row in actions)
and nothing is written; reading is not limited.
"""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from escalations.models import RiskAcceptance, Signal, Silence
from escalations.services.risk import risk_acceptance_request
from escalations.services.silences import silence_create
from tests.center.support import incident
from tests.factories import AgentFactory
from trust.choices import DisputeState
from trust.models import Dispute
from trust.services.agents import components_get_or_create
from trust.services.disputes import dispute_open

pytestmark = pytest.mark.django_db


def url(model, view="changelist", *args):
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def act(client, model, action, rows, **data):
    return client.post(
        url(model),
        {"action": action, "_selected_action": [row.pk for row in rows], **data},
        follow=True,
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def errors_on(response, field) -> list[str]:
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors.get(field, [])


def when(prefix, moment) -> dict:
    return {f"{prefix}_0": moment.strftime("%d/%m/%Y"), f"{prefix}_1": moment.strftime("%H:%M:%S")}


@pytest.fixture
def agents(people):
    """(an agent of the team operator's team, an agent of another team)."""
    return AgentFactory(team=people.own_team), AgentFactory(team=people.other_team)


@pytest.fixture
def team_client(client, people):
    client.force_login(people.team_operator)
    return client


# --- risk acceptances -----------------------------------------------------------------


def risk_data(incident_row) -> dict:
    return {
        "incident": incident_row.pk,
        "rationale": "Vendor fix ships Friday",
        **when("expires_at", timezone.now() + timedelta(days=3)),
    }


def test_a_team_operator_requests_risk_acceptances_of_their_teams_incidents_only(
    team_client, people, agents, actor
):
    mine, theirs = (incident(agent, actor) for agent in agents)

    refused = team_client.post(url(RiskAcceptance, "add"), risk_data(theirs))

    assert errors_on(refused, "incident") == [
        f"You may not request a risk acceptance of incident #{theirs.pk}: it belongs to "
        "Finance, outside your teams."
    ]
    assert not RiskAcceptance.objects.exists()
    done = team_client.post(url(RiskAcceptance, "add"), risk_data(mine))
    assert done.status_code == 302
    assert RiskAcceptance.objects.get().incident == mine


def requested(agents, actor):
    return [
        risk_acceptance_request(
            incident=incident(agent, actor),
            rationale="Low impact",
            expires_at=timezone.now() + timedelta(days=1),
            actor=actor,
        )
        for agent in agents
    ]


def test_a_team_operator_approves_risk_acceptances_of_their_teams_only(team_client, agents, actor):
    mine, theirs = requested(agents, actor)

    response = act(team_client, RiskAcceptance, "approve_selected", [mine, theirs])

    assert f"Not done on rows outside your teams: #{theirs.pk}" in messages_of(response)[0]
    assert f"Approved: risk acceptance #{mine.pk}." in messages_of(response)
    states = dict(RiskAcceptance.objects.values_list("pk", "state"))
    assert states == {mine.pk: "approved", theirs.pk: "requested"}


def test_a_team_operator_rejects_risk_acceptances_of_their_teams_only(team_client, agents, actor):
    mine, theirs = requested(agents, actor)

    alone = act(team_client, RiskAcceptance, "reject_selected", [theirs], apply="yes", reason="No")
    both = act(
        team_client, RiskAcceptance, "reject_selected", [mine, theirs], apply="yes", reason="No"
    )

    assert messages_of(alone) == [
        f"Not done on rows outside your teams: #{theirs.pk}. You act only on agents of your teams."
    ]
    assert f"Rejected: risk acceptance #{mine.pk}." in messages_of(both)
    states = dict(RiskAcceptance.objects.values_list("pk", "state"))
    assert states == {mine.pk: "rejected", theirs.pk: "requested"}


# --- signals ----------------------------------------------------------------------------


def signal_data(agent) -> dict:
    return {
        "agent": agent.pk,
        "kind": "incident_flag",
        **when("observed_at", timezone.now()),
        "value": "",
        "payload": "{}",
        "idempotency_key": "",
    }


def test_a_team_operator_records_signals_on_their_teams_agents_only(team_client, agents):
    mine, theirs = agents

    refused = team_client.post(url(Signal, "add"), signal_data(theirs))

    assert errors_on(refused, "agent") == [
        f"You may not record a signal on agent {theirs.slug}: it belongs to Finance, "
        "outside your teams."
    ]
    assert not Signal.objects.exists()
    assert team_client.post(url(Signal, "add"), signal_data(mine)).status_code == 302
    assert Signal.objects.get().agent == mine


# --- silences ---------------------------------------------------------------------------


def silence_data(*, agent=None, component=None, reason="Model upgrade") -> dict:
    start = timezone.now()
    return {
        "agent": agent.pk if agent else "",
        "component": component.pk if component else "",
        **when("starts_at", start),
        **when("ends_at", start + timedelta(hours=2)),
        "recurrence": "none",
        "window_start": "",
        "window_end": "",
        "reason": reason,
    }


def test_a_team_operator_silences_their_teams_agents_only(team_client, agents):
    mine, theirs = agents

    refused = team_client.post(url(Silence, "add"), silence_data(agent=theirs))

    assert errors_on(refused, "agent") == [
        f"You may not silence agent {theirs.slug}: it belongs to Finance, outside your teams."
    ]
    assert not Silence.objects.exists()
    assert team_client.post(url(Silence, "add"), silence_data(agent=mine)).status_code == 302
    assert Silence.objects.get().agent == mine


def test_only_a_fleet_wide_operator_silences_a_component(client, people):
    (gateway,) = components_get_or_create(["llm-gateway"])
    client.force_login(people.team_operator)

    refused = client.post(url(Silence, "add"), silence_data(component=gateway))

    assert errors_on(refused, "component") == [
        "You may not silence component llm-gateway: it spans teams and you act for some teams only."
    ]
    assert not Silence.objects.exists()
    client.force_login(people.operator)
    assert client.post(url(Silence, "add"), silence_data(component=gateway)).status_code == 302
    assert Silence.objects.get().component == gateway


def test_a_team_operator_edits_their_teams_silences_only(team_client, people, agents, actor):
    (gateway,) = components_get_or_create(["llm-gateway"])
    start = timezone.now()
    mine, theirs, shared = (
        silence_create(
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            reason="Model upgrade",
            actor=actor,
            **target,
        )
        for target in ({"agent": agents[0]}, {"agent": agents[1]}, {"component": gateway})
    )

    for silence in (theirs, shared):
        page = team_client.get(url(Silence, "change", silence.pk))
        assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
        edit = silence_data(reason="Longer upgrade")
        assert team_client.post(url(Silence, "change", silence.pk), edit).status_code == 403
    edited = team_client.post(url(Silence, "change", mine.pk), silence_data(reason="Longer"))

    assert edited.status_code == 302
    reasons = dict(Silence.objects.values_list("pk", "reason"))
    assert reasons == {mine.pk: "Longer", theirs.pk: "Model upgrade", shared.pk: "Model upgrade"}


# --- disputes ---------------------------------------------------------------------------


def dispute_data(agent) -> dict:
    return {
        "agent": agent.pk,
        "reference": "SET-42",
        "counterparty": "Acme Payments",
        "amount": "950.00",
        "currency": "EUR",
        "description": "",
        **when("opened_at", timezone.localtime() - timedelta(minutes=1)),
    }


def test_a_team_operator_opens_disputes_on_their_teams_agents_only(team_client, agents):
    mine, theirs = agents

    refused = team_client.post(url(Dispute, "add"), dispute_data(theirs))

    assert errors_on(refused, "agent") == [
        f"You may not open a dispute on agent {theirs.slug}: it belongs to Finance, "
        "outside your teams."
    ]
    assert not Dispute.objects.exists()
    assert team_client.post(url(Dispute, "add"), dispute_data(mine)).status_code == 302
    assert Dispute.objects.get().agent == mine


def opened(agents, actor):
    return [
        dispute_open(
            agent=agent,
            reference=f"SET-{number}",
            counterparty="Acme Payments",
            amount="120.00",
            currency="EUR",
            actor=actor,
        )
        for number, agent in enumerate(agents, start=1)
    ]


def test_a_team_operator_resolves_disputes_of_their_teams_only(team_client, agents, actor):
    mine, theirs = opened(agents, actor)

    response = act(
        team_client, Dispute, "resolve_selected", [mine, theirs], apply="yes", outcome="settled"
    )

    assert f"Not done on rows outside your teams: #{theirs.pk}" in messages_of(response)[0]
    assert "Resolved SET-1." in messages_of(response)
    states = dict(Dispute.objects.values_list("reference", "state"))
    assert states == {"SET-1": DisputeState.RESOLVED, "SET-2": DisputeState.OPEN}


def test_a_team_operator_resolves_one_dispute_of_their_teams_only(team_client, agents, actor):
    mine, theirs = opened(agents, actor)
    resolve = lambda row: url(Dispute, "resolve", row.pk)  # noqa: E731

    assert "Resolve…" not in team_client.get(url(Dispute, "change", theirs.pk)).content.decode()
    assert "Resolve…" in team_client.get(url(Dispute, "change", mine.pk)).content.decode()
    refused = team_client.post(resolve(theirs), {"outcome": "settled"}, follow=True)
    done = team_client.post(resolve(mine), {"outcome": "settled"})

    assert refused.redirect_chain == [(url(Dispute, "change", theirs.pk), 302)]
    assert messages_of(refused) == [
        "You may not resolve dispute SET-2: it belongs to Finance, outside your teams."
    ]
    assert done.status_code == 302
    states = dict(Dispute.objects.values_list("reference", "state"))
    assert states == {"SET-1": DisputeState.RESOLVED, "SET-2": DisputeState.OPEN}


# --- reading is fleet-wide ----------------------------------------------------------------


def test_a_team_operator_still_lists_every_teams_rows(team_client, agents, actor):
    theirs = agents[1]
    requested([theirs], actor)
    opened([theirs], actor)
    start = timezone.now()
    silence_create(
        agent=theirs, starts_at=start, ends_at=start + timedelta(hours=1), reason="x", actor=actor
    )

    for model in (RiskAcceptance, Signal, Silence, Dispute):
        response = team_client.get(url(model))
        assert response.status_code == 200
        assert response.context["cl"].result_count >= 1, model.__name__
