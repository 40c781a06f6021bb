"""Who may call what: a matrix over every endpoint.

For each endpoint: anonymous → 401 (with ``WWW-Authenticate: Bearer``), a revoked or
expired key → 401, a key without the scope → 403, a key with exactly that scope →
allowed, and a key restricted to another team → 404 for this team's objects.
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from atoc.center.models import OperatorScope
from atoc.center.roles import ADMIN as ADMIN_ROLE
from atoc.center.roles import OPERATOR, VIEWER, install_roles
from atoc.core.models import ApiKey, ApiScope
from atoc.core.services import api_key_revoke
from escalations.models import Control, Counterpart, RoutingRule, SeverityLevel
from escalations.services.incidents import incident_decide
from escalations.services.signals import signal_ingest
from tests.api.conftest import client_with_key
from tests.api.support import (
    assert_error,
    dispute_body,
    evaluation_body,
    signal_body,
    version_body,
)
from tests.factories import (
    AgentFactory,
    DisputeFactory,
    EvaluationFactory,
    PactVersionFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

READ, SIGNALS, EVALS, ADMIN = (
    ApiScope.READ,
    ApiScope.SIGNALS_WRITE,
    ApiScope.EVALUATIONS_WRITE,
    ApiScope.ADMIN,
)


@dataclass
class World:
    team: object
    agent: object
    evaluation: object
    dispute: object
    version: object
    signal: object = None
    incident: object = None  # open
    decided: object = None  # decided, awaiting resolution
    level: object = None
    control: object = None
    counterpart: object = None
    rule: object = None


def _ingest(agent, *, kind: str, key: str, actor):
    return signal_ingest(
        agent=agent,
        kind=kind,
        observed_at=timezone.now() - timedelta(minutes=1),
        source="matrix",
        idempotency_key=key,
        actor=actor,
    )


@pytest.fixture
def world(ladder):
    team = TeamFactory(slug="payments")
    agent = AgentFactory(slug="refund-bot", team=team)
    actor = UserFactory(username="matrix-operator")
    opened = _ingest(agent, kind="pact_breach", key="open", actor=actor)
    decided = _ingest(agent, kind="custom", key="decided", actor=actor).incident
    incident_decide(incident=decided, consequence="monitor", rationale="seen", actor=actor)
    return World(
        team=team,
        agent=agent,
        evaluation=EvaluationFactory(agent=agent),
        dispute=DisputeFactory(agent=agent),
        version=agent.pact_version,
        signal=opened.signal,
        incident=opened.incident,
        decided=decided,
        level=SeverityLevel.objects.get(name="SEV4"),
        control=Control.objects.get(signal_kind="custom"),
        counterpart=Counterpart.objects.get(name="Platform on-call"),
        rule=RoutingRule.objects.get(is_default=False, kind="settlement_dispute"),
    )


def level_body(w, **overrides):
    body = {"name": "SEV0", "rank": 9, "ack_deadline_seconds": 60, "decision_deadline_seconds": 60}
    return {**body, **overrides}


def control_body(w, **overrides):
    body = {
        "name": "Matrix control",
        "signal_kind": "custom",
        "opening_severity": "SEV3",
        "owner": w.counterpart.pk,
        "consequence": "monitor",
        "enabled": False,
    }
    return {**body, **overrides}


@dataclass
class Endpoint:
    name: str
    method: str
    path: object  # world -> str
    scope: str
    body: object = None  # world -> dict
    team_scoped: bool = True  # a key of another team gets 404


ENDPOINTS = [
    Endpoint("teams-list", "get", lambda w: "/api/v1/teams/", READ, team_scoped=False),
    Endpoint("teams-read", "get", lambda w: f"/api/v1/teams/{w.team.slug}/", READ),
    Endpoint("agents-list", "get", lambda w: "/api/v1/agents/", READ, team_scoped=False),
    Endpoint(
        "agents-create",
        "post",
        lambda w: "/api/v1/agents/",
        ADMIN,
        lambda w: {"slug": "new-bot", "name": "New", "team": w.team.slug, "tier": 2},
    ),
    Endpoint("agents-read", "get", lambda w: f"/api/v1/agents/{w.agent.slug}/", READ),
    Endpoint(
        "agents-put",
        "put",
        lambda w: f"/api/v1/agents/{w.agent.slug}/",
        ADMIN,
        lambda w: {"name": "Renamed", "team": w.team.slug, "tier": 1},
    ),
    Endpoint(
        "agents-patch",
        "patch",
        lambda w: f"/api/v1/agents/{w.agent.slug}/",
        ADMIN,
        lambda w: {"name": "Renamed"},
    ),
    Endpoint("agents-trust", "get", lambda w: f"/api/v1/agents/{w.agent.slug}/trust/", READ),
    Endpoint("pacts-list", "get", lambda w: "/api/v1/pacts/", READ, team_scoped=False),
    Endpoint(
        "pacts-create",
        "post",
        lambda w: "/api/v1/pacts/",
        ADMIN,
        lambda w: {"slug": "new-pact", "name": "New pact"},
        team_scoped=False,
    ),
    Endpoint(
        "pacts-read",
        "get",
        lambda w: f"/api/v1/pacts/{w.version.pact_id}/",
        READ,
        team_scoped=False,
    ),
    Endpoint(
        "versions-list",
        "get",
        lambda w: f"/api/v1/pacts/{w.version.pact_id}/versions/",
        READ,
        team_scoped=False,
    ),
    Endpoint(
        "versions-publish",
        "post",
        lambda w: f"/api/v1/pacts/{w.version.pact_id}/versions/",
        ADMIN,
        lambda w: version_body(),
        team_scoped=False,
    ),
    Endpoint(
        "versions-read",
        "get",
        lambda w: f"/api/v1/pacts/{w.version.pact_id}/versions/{w.version.number}/",
        READ,
        team_scoped=False,
    ),
    Endpoint("evaluations-list", "get", lambda w: "/api/v1/evaluations/", READ, team_scoped=False),
    Endpoint(
        "evaluations-submit",
        "post",
        lambda w: "/api/v1/evaluations/",
        EVALS,
        lambda w: evaluation_body(w.agent),
    ),
    Endpoint("evaluations-read", "get", lambda w: f"/api/v1/evaluations/{w.evaluation.pk}/", READ),
    Endpoint("disputes-list", "get", lambda w: "/api/v1/disputes/", READ, team_scoped=False),
    Endpoint(
        "disputes-open",
        "post",
        lambda w: "/api/v1/disputes/",
        SIGNALS,
        lambda w: dispute_body(w.agent),
    ),
    Endpoint("disputes-read", "get", lambda w: f"/api/v1/disputes/{w.dispute.pk}/", READ),
    Endpoint(
        "disputes-resolve",
        "post",
        lambda w: f"/api/v1/disputes/{w.dispute.pk}/resolve/",
        SIGNALS,
        lambda w: {"outcome": "settled"},
    ),
    # escalations
    Endpoint("signals-list", "get", lambda w: "/api/v1/signals/", READ, team_scoped=False),
    Endpoint(
        "signals-post",
        "post",
        lambda w: "/api/v1/signals/",
        SIGNALS,
        lambda w: signal_body(w.agent, key="matrix"),
    ),
    Endpoint(
        "signals-post-bulk",
        "post",
        lambda w: "/api/v1/signals/",
        SIGNALS,
        lambda w: [signal_body(w.agent, key="m1"), signal_body(w.agent, key="m2")],
    ),
    Endpoint("signals-read", "get", lambda w: f"/api/v1/signals/{w.signal.pk}/", READ),
    Endpoint("incidents-list", "get", lambda w: "/api/v1/incidents/", READ, team_scoped=False),
    Endpoint("incidents-read", "get", lambda w: f"/api/v1/incidents/{w.incident.pk}/", READ),
    Endpoint(
        "incidents-acknowledge",
        "post",
        lambda w: f"/api/v1/incidents/{w.incident.pk}/acknowledge/",
        SIGNALS,
        lambda w: {"note": "seen"},
    ),
    Endpoint(
        "incidents-decide",
        "post",
        lambda w: f"/api/v1/incidents/{w.incident.pk}/decide/",
        SIGNALS,
        lambda w: {"consequence": "monitor", "rationale": "no customer impact"},
    ),
    Endpoint(
        "incidents-resolve",
        "post",
        lambda w: f"/api/v1/incidents/{w.decided.pk}/resolve/",
        SIGNALS,
        lambda w: {"note": "done"},
    ),
    Endpoint(
        "incidents-escalate",
        "post",
        lambda w: f"/api/v1/incidents/{w.incident.pk}/escalate/",
        SIGNALS,
        lambda w: {"reason": "customers affected"},
    ),
    Endpoint("levels-list", "get", lambda w: "/api/v1/severity-levels/", READ, team_scoped=False),
    Endpoint(
        "levels-read",
        "get",
        lambda w: f"/api/v1/severity-levels/{w.level.pk}/",
        READ,
        team_scoped=False,
    ),
    Endpoint(
        "levels-create",
        "post",
        lambda w: "/api/v1/severity-levels/",
        ADMIN,
        level_body,
        team_scoped=False,
    ),
    Endpoint(
        "levels-replace",
        "put",
        lambda w: f"/api/v1/severity-levels/{w.level.pk}/",
        ADMIN,
        lambda w: level_body(w, name="SEV4", rank=1),
        team_scoped=False,
    ),
    Endpoint("controls-list", "get", lambda w: "/api/v1/controls/", READ, team_scoped=False),
    Endpoint(
        "controls-read",
        "get",
        lambda w: f"/api/v1/controls/{w.control.pk}/",
        READ,
        team_scoped=False,
    ),
    Endpoint(
        "controls-create",
        "post",
        lambda w: "/api/v1/controls/",
        ADMIN,
        control_body,
        team_scoped=False,
    ),
    Endpoint(
        "controls-replace",
        "put",
        lambda w: f"/api/v1/controls/{w.control.pk}/",
        ADMIN,
        lambda w: control_body(w, name=w.control.name, enabled=True),
        team_scoped=False,
    ),
    Endpoint(
        "counterparts-list", "get", lambda w: "/api/v1/counterparts/", READ, team_scoped=False
    ),
    Endpoint(
        "counterparts-read",
        "get",
        lambda w: f"/api/v1/counterparts/{w.counterpart.pk}/",
        READ,
        team_scoped=False,
    ),
    Endpoint(
        "counterparts-create",
        "post",
        lambda w: "/api/v1/counterparts/",
        ADMIN,
        lambda w: {"name": "Matrix on-call", "function": "platform", "email": "m@example.com"},
        team_scoped=False,
    ),
    Endpoint(
        "counterparts-replace",
        "put",
        lambda w: f"/api/v1/counterparts/{w.counterpart.pk}/",
        ADMIN,
        lambda w: {"name": w.counterpart.name, "function": "platform", "email": "p@example.com"},
        team_scoped=False,
    ),
    Endpoint("routing-list", "get", lambda w: "/api/v1/routing-rules/", READ, team_scoped=False),
    Endpoint(
        "routing-read",
        "get",
        lambda w: f"/api/v1/routing-rules/{w.rule.pk}/",
        READ,
        team_scoped=False,
    ),
    Endpoint(
        "routing-create",
        "post",
        lambda w: "/api/v1/routing-rules/",
        ADMIN,
        lambda w: {"name": "Matrix rule", "counterparts": [w.counterpart.pk]},
        team_scoped=False,
    ),
    Endpoint(
        "routing-replace",
        "put",
        lambda w: f"/api/v1/routing-rules/{w.rule.pk}/",
        ADMIN,
        lambda w: {"name": w.rule.name, "tier": 1, "counterparts": [w.counterpart.pk]},
        team_scoped=False,
    ),
]
IDS = [e.name for e in ENDPOINTS]


def call(client, endpoint: Endpoint, world: World):
    path = endpoint.path(world)
    body = endpoint.body(world) if endpoint.body else None
    method = getattr(client, endpoint.method)
    return method(path, body) if body is not None else method(path)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_anonymous_is_401_with_bearer_challenge(anonymous, world, endpoint):
    response = call(anonymous, endpoint, world)
    assert_error(response, 401, code="not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_revoked_key_is_401(make_key, world, endpoint):
    api_key, raw = make_key([ADMIN])
    api_key_revoke(api_key=api_key, actor=UserFactory())
    error = assert_error(call(client_with_key(raw), endpoint, world), 401)
    assert "revoked" in error["message"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_expired_key_is_401(expired_client, world, endpoint):
    error = assert_error(call(expired_client, endpoint, world), 401)
    assert "expired" in error["message"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_key_without_the_scope_is_403(make_client, world, endpoint):
    others = [s for s in (READ, SIGNALS, EVALS) if s != endpoint.scope]
    error = assert_error(call(make_client(others), endpoint, world), 403)
    assert endpoint.scope in error["message"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_key_with_exactly_the_scope_is_allowed(make_client, world, endpoint):
    response = call(make_client([endpoint.scope]), endpoint, world)
    assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.team_scoped], ids=str)
def test_key_of_another_team_gets_404(make_client, world, endpoint):
    client = make_client([ADMIN], teams=[TeamFactory(slug="elsewhere")])
    assert_error(call(client, endpoint, world), 404)


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.team_scoped], ids=str)
def test_key_of_the_same_team_is_allowed(make_client, world, endpoint):
    client = make_client([ADMIN], teams=[world.team])
    response = call(client, endpoint, world)
    assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize(
    "path", ["/api/v1/agents/", "/api/v1/evaluations/", "/api/v1/disputes/", "/api/v1/teams/"]
)
def test_team_restricted_lists_show_only_their_teams(make_client, world, path):
    other = AgentFactory(slug="other-bot")
    EvaluationFactory(agent=other)
    DisputeFactory(agent=other)
    mine = make_client([READ], teams=[world.team]).get(path).json()["results"]
    everyone = make_client([READ]).get(path).json()["results"]
    assert len(mine) == 1
    assert len(everyone) == 2


def test_team_restricted_key_cannot_move_an_agent_to_another_team(make_client, world):
    TeamFactory(slug="elsewhere")
    client = make_client([ADMIN], teams=[world.team])
    response = client.patch(f"/api/v1/agents/{world.agent.slug}/", {"team": "elsewhere"})
    assert_error(response, 404, field="team")
    world.agent.refresh_from_db()
    assert world.agent.team == world.team


def test_admin_scope_implies_every_other(make_client, world):
    client = make_client([ADMIN])
    assert client.post("/api/v1/disputes/", dispute_body(world.agent)).status_code == 201
    assert client.post("/api/v1/evaluations/", evaluation_body(world.agent)).status_code == 201


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Bearer nonsense", "Bearer atoc_unknown_secret", "Bearer atoc__x"],
)
def test_malformed_or_unknown_keys_are_401(world, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_error(client.get("/api/v1/agents/"), 401, code="authentication_failed")


def test_wrong_secret_for_a_known_prefix_is_401(make_key, world):
    _, raw = make_key([READ])
    tampered = raw[:-2] + ("AA" if not raw.endswith("AA") else "BB")
    assert_error(client_with_key(tampered).get("/api/v1/agents/"), 401)


def test_key_acts_as_its_service_account(make_client, world):
    client = make_client([EVALS])
    response = client.post("/api/v1/evaluations/", evaluation_body(world.agent))
    assert response.json()["submitted_by"] == client.api_key.user.username
    assert client.api_key.user.username == f"apikey-{client.api_key.prefix}"


def test_last_use_is_recorded_at_most_once_a_minute(make_key, world):
    api_key, raw = make_key([READ])
    long_ago = timezone.now() - timedelta(hours=1)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=long_ago)
    client = client_with_key(raw)
    client.get("/api/v1/agents/")
    api_key.refresh_from_db()
    first_use = api_key.last_used_at
    assert first_use > long_ago
    client.get("/api/v1/agents/")
    api_key.refresh_from_db()
    assert api_key.last_used_at == first_use


# --- sessions of logged-in staff -------------------------------------------------------


@pytest.fixture
def roles(db):
    """The three role groups (the migrations install them; a flushed database lacks them)."""
    install_roles(apps)


def session(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def in_role(username: str, role: str, *, teams=()):
    user = UserFactory(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    if teams:
        OperatorScope.objects.create(user=user).teams.set(teams)
    return user


def test_staff_session_reads_and_writes_evidence_with_csrf(world, roles):
    staff = in_role("ops-staff", OPERATOR)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff)
    assert client.get("/api/v1/agents/").status_code == 200

    without_token = client.post("/api/v1/disputes/", dispute_body(world.agent))
    error = assert_error(without_token, 403)
    assert "CSRF" in error["message"]

    token = "a" * 32  # any 32-character secret, sent as cookie and header
    client.cookies["csrftoken"] = token
    response = client.post("/api/v1/disputes/", dispute_body(world.agent), HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201, response.content


def test_staff_session_lacks_the_admin_scope(world):
    client = APIClient()
    client.force_login(UserFactory(username="ops-staff", is_staff=True))
    response = client.post("/api/v1/pacts/", {"slug": "p", "name": "P"})
    assert_error(response, 403)


def test_superuser_session_holds_every_scope(world, admin_user):
    client = APIClient()
    client.force_login(admin_user)
    assert client.post("/api/v1/pacts/", {"slug": "p", "name": "P"}).status_code == 201


def test_viewer_session_reads_but_cannot_act(world, roles):
    client = session(in_role("watcher", VIEWER))
    assert client.get(f"/api/v1/incidents/{world.incident.pk}/").status_code == 200

    decide = client.post(
        f"/api/v1/incidents/{world.incident.pk}/decide/",
        {"consequence": "suspend", "rationale": "not mine to decide"},
    )
    assert_error(decide, 403)
    assert_error(client.post("/api/v1/signals/", signal_body(world.agent, key="viewer")), 403)
    world.incident.refresh_from_db()
    world.agent.refresh_from_db()
    assert world.incident.state == "open" and world.agent.status == "active"


def test_plain_staff_session_without_a_role_only_reads(world, roles):
    client = session(UserFactory(username="no-role", is_staff=True))
    assert client.get("/api/v1/agents/").status_code == 200
    acknowledge = client.post(f"/api/v1/incidents/{world.incident.pk}/acknowledge/", {})
    assert_error(acknowledge, 403)


def test_operator_session_acts_on_incidents(world, roles):
    client = session(in_role("fleet-op", OPERATOR))
    response = client.post(f"/api/v1/incidents/{world.incident.pk}/acknowledge/", {})
    assert response.status_code == 200, response.content
    world.incident.refresh_from_db()
    assert world.incident.state == "acknowledged"


def test_team_operator_session_cannot_see_or_act_on_another_team(world, roles):
    elsewhere = TeamFactory(slug="elsewhere")
    client = session(in_role("elsewhere-op", OPERATOR, teams=[elsewhere]))
    assert client.get("/api/v1/incidents/").json()["results"] == []
    acknowledge = client.post(f"/api/v1/incidents/{world.incident.pk}/acknowledge/", {})
    assert_error(acknowledge, 404)
    world.incident.refresh_from_db()
    assert world.incident.state == "open"


def test_team_operator_session_acts_on_its_own_team(world, roles):
    client = session(in_role("payments-op", OPERATOR, teams=[world.team]))
    response = client.post(f"/api/v1/incidents/{world.incident.pk}/acknowledge/", {})
    assert response.status_code == 200, response.content


def test_admin_role_session_configures(world, roles):
    client = session(in_role("config-admin", ADMIN_ROLE))
    assert client.post("/api/v1/pacts/", {"slug": "p", "name": "P"}).status_code == 201


def test_non_staff_session_is_403(world):
    client = APIClient()
    client.force_login(UserFactory(username="customer", is_staff=False))
    assert_error(client.get("/api/v1/agents/"), 403)


def test_version_publish_is_not_team_scoped(make_client, world):
    """Pacts are shared by the fleet: a team-restricted admin key may publish versions."""
    client = make_client([ADMIN], teams=[TeamFactory(slug="elsewhere")])
    version = PactVersionFactory()
    response = client.post(f"/api/v1/pacts/{version.pact_id}/versions/", version_body())
    assert response.status_code == 201


@pytest.mark.parametrize("path", ["/api/v1/signals/", "/api/v1/incidents/"])
def test_team_restricted_escalation_lists_show_only_their_teams(make_client, world, path):
    other = AgentFactory(slug="other-bot")
    _ingest(other, kind="pact_breach", key="other", actor=UserFactory(username="other-op"))
    mine = make_client([READ], teams=[world.team]).get(path).json()["results"]
    everyone = make_client([READ]).get(path).json()["results"]
    assert {row["agent"] for row in mine} == {"refund-bot"}
    assert {row["agent"] for row in everyone} == {"refund-bot", "other-bot"}


def test_team_restricted_key_sees_its_teams_and_shared_counterparts(make_client, world):
    elsewhere = TeamFactory(slug="elsewhere")
    Counterpart.objects.create(name="Their on-call", function="platform", email="t@example.com",
                               team=elsewhere)  # fmt: skip
    Counterpart.objects.create(name="Our on-call", function="platform", email="o@example.com",
                               team=world.team)  # fmt: skip
    names = {
        row["name"]
        for row in make_client([READ], teams=[world.team])
        .get("/api/v1/counterparts/")
        .json()["results"]
    }
    assert "Our on-call" in names
    assert "Platform on-call" in names  # serves every team
    assert "Their on-call" not in names


def test_team_restricted_admin_key_cannot_change_what_every_team_shares(make_client, world):
    client = make_client([ADMIN], teams=[world.team])
    shared = world.counterpart  # no team: serves every team
    replaced = client.put(
        f"/api/v1/counterparts/{shared.pk}/",
        {"name": shared.name, "function": "platform", "email": "someone@example.com"},
    )
    assert_error(replaced, 403, code="out_of_scope")
    created = client.post(
        "/api/v1/counterparts/", {"name": "Everyone", "function": "platform", "email": "e@x.io"}
    )
    assert_error(created, 403, field="team")
    rule = client.post("/api/v1/routing-rules/", {"name": "All", "counterparts": [shared.pk]})
    assert_error(rule, 403, field="team")
    level = client.put(f"/api/v1/severity-levels/{world.level.pk}/", level_body(world))
    assert_error(level, 403, code="out_of_scope")
    assert_error(client.post("/api/v1/controls/", control_body(world)), 403, code="out_of_scope")

    shared.refresh_from_db()
    assert shared.email != "someone@example.com"
    assert not Counterpart.objects.filter(name="Everyone").exists()
    assert not RoutingRule.objects.filter(name="All").exists()
    assert not Control.objects.filter(name="Matrix control").exists()
    assert not SeverityLevel.objects.filter(name="SEV0").exists()


def test_team_restricted_admin_key_configures_its_own_team(make_client, world):
    client = make_client([ADMIN], teams=[world.team])
    elsewhere = TeamFactory(slug="elsewhere")
    theirs = Counterpart.objects.create(
        name="Their on-call", function="platform", email="t@example.com", team=elsewhere
    )
    created = client.post(
        "/api/v1/counterparts/",
        {"name": "Our on-call", "function": "platform", "email": "o@example.com",
         "team": world.team.slug},
    )  # fmt: skip
    assert created.status_code == 201, created.content
    ours = created.json()["id"]
    rule_body = {"name": "Ours", "team": world.team.slug, "counterparts": [ours]}
    assert client.post("/api/v1/routing-rules/", rule_body).status_code == 201

    foreign = client.post(
        "/api/v1/routing-rules/", {**rule_body, "name": "Theirs", "counterparts": [theirs.pk]}
    )
    assert_error(foreign, 404, field="counterparts")
    assert not RoutingRule.objects.filter(name="Theirs").exists()


def test_team_restricted_key_cannot_act_on_another_teams_incident(make_client, world):
    client = make_client([SIGNALS], teams=[TeamFactory(slug="elsewhere")])
    assert_error(client.post(f"/api/v1/incidents/{world.incident.pk}/acknowledge/", {}), 404)
    world.incident.refresh_from_db()
    assert world.incident.state == "open"
