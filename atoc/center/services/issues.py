"""Systemic issues: the proposal job, linking incidents, and what operators decide.

The job (:func:`systemic_issues_propose`) looks at the incidents opened in a window
(``ATOC_SYSTEMIC_WINDOW_DAYS``, default 14). When at least
``ATOC_SYSTEMIC_MIN_INCIDENTS`` of them (default 3), on agents of at least
``ATOC_SYSTEMIC_MIN_TEAMS`` teams (default 2), share a component or a pact, and
they are concentrated there — the incident rate of the agents with that component
or pact is at least ``ATOC_SYSTEMIC_MIN_LIFT`` times (default 2) the rate of the
agents without it, so a provider every agent uses explains nothing — it proposes one
issue with those incidents. Incidents on the basis of a known issue (proposed, confirmed, or merged
into one of those) are linked to it; an incident on a closed issue reopens it and
counts as a repeat. Operators confirm, dismiss, merge and close issues.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from atoc.center.access import authorize, require_fleet_wide
from atoc.center.choices import (
    ACTIVE_ISSUE_STATES,
    IssueLinkSource,
    SystemicIssueBasis,
    SystemicIssueState,
)
from atoc.center.models import SystemicIssue, SystemicIssueIncident
from atoc.center.services.locks import job_lock
from atoc.core.exceptions import InvalidTransition, ValidationFailed
from atoc.core.history import get_system_user, save_with_history
from escalations.models import Incident
from trust.choices import AgentStatus
from trust.models import Agent, Component, Pact, Team

PERMISSION = "center.change_systemicissue"

Basis = tuple[str, int]


@dataclass(frozen=True)
class _Row:
    incident_id: int
    agent_id: int
    team_id: int
    opened_at: datetime


@dataclass
class ProposalReport:
    """What one run of the proposal job did."""

    proposed: list[int] = field(default_factory=list)
    linked: int = 0
    repeats: int = 0
    reopened: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "proposed": self.proposed,
            "linked": self.linked,
            "repeats": self.repeats,
            "reopened": self.reopened,
        }


@dataclass(frozen=True)
class ProposalRules:
    """The thresholds of the proposal job (defaults from settings)."""

    window: timedelta
    min_incidents: int
    min_teams: int
    min_lift: float

    @classmethod
    def from_settings(cls, **overrides) -> ProposalRules:
        values = {
            "window": timedelta(days=settings.ATOC_SYSTEMIC_WINDOW_DAYS),
            "min_incidents": settings.ATOC_SYSTEMIC_MIN_INCIDENTS,
            "min_teams": settings.ATOC_SYSTEMIC_MIN_TEAMS,
            "min_lift": settings.ATOC_SYSTEMIC_MIN_LIFT,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values["min_incidents"] < 1:
            raise ValidationFailed("At least one incident is needed.", field="min_incidents")
        if values["window"] <= timedelta(0):
            raise ValidationFailed("The window must be positive.", field="window")
        return cls(**values)


def basis_of(issue: SystemicIssue) -> Basis:
    """``("component", id)`` or ``("pact", id)``: what the issue's incidents share."""
    if issue.basis == SystemicIssueBasis.COMPONENT:
        return (SystemicIssueBasis.COMPONENT, issue.component_id)
    return (SystemicIssueBasis.PACT, issue.pact_id)


# --- the job ---------------------------------------------------------------------------


@transaction.atomic
def systemic_issues_propose(
    *,
    now: datetime | None = None,
    actor=None,
    window: timedelta | None = None,
    min_incidents: int | None = None,
    min_teams: int | None = None,
    min_lift: float | None = None,
) -> ProposalReport:
    """Propose new systemic issues and link new incidents to known ones (see the module).

    Safe to run twice or on two workers at once: runs are serialised by a lock, and
    an incident is linked to one issue at most. Returns what it did.
    """
    now = now or timezone.now()
    actor = actor or get_system_user()
    rules = ProposalRules.from_settings(
        window=window, min_incidents=min_incidents, min_teams=min_teams, min_lift=min_lift
    )
    job_lock("center.propose_systemic_issues")
    since = now - rules.window
    report = ProposalReport()

    owners = _issue_owners()
    dismissed = _dismissed_at()
    candidates = _candidate_bases(since=since, now=now, rules=rules)
    rows = _unlinked_rows({*owners, *candidates}, since=since, now=now)

    taken: set[int] = set()
    links: list[SystemicIssueIncident] = []
    touched: set[int] = set()
    by_issue: dict[int, list[Basis]] = defaultdict(list)
    issues = {}
    for basis, issue in owners.items():
        by_issue[issue.pk].append(basis)
        issues[issue.pk] = issue
    for issue_id, bases in sorted(by_issue.items()):
        issue = issues[issue_id]
        found = _take(rows, bases, taken)
        if issue.state == SystemicIssueState.CLOSED:
            found = [r for r in found if r.opened_at > issue.closed_at]
            if not found:
                continue
            _reopen(issue, first=found[0], actor=actor, now=now)
            report.reopened.append(issue.pk)
        if not found:
            continue
        links += _links(issue, found, source=IssueLinkSource.JOB, actor=actor, now=now)
        touched.add(issue.pk)

    new_bases = sorted(
        (b for b in candidates if b not in owners),
        key=lambda b: (-len(rows.get(b, [])), b),
    )
    for basis in new_bases:
        found = [r for r in rows.get(basis, []) if r.incident_id not in taken]
        if basis in dismissed:
            found = [r for r in found if r.opened_at > dismissed[basis]]
        if len(found) < rules.min_incidents or len({r.team_id for r in found}) < rules.min_teams:
            continue
        issue = _propose(basis, found, rules=rules, actor=actor, now=now)
        taken.update(r.incident_id for r in found)
        links += _links(issue, found, source=IssueLinkSource.PROPOSAL, actor=actor, now=now)
        touched.add(issue.pk)
        report.proposed.append(issue.pk)

    SystemicIssueIncident.objects.bulk_create(links)
    issues_refresh_counts(touched)
    report.linked = len(links)
    report.repeats = sum(1 for link in links if link.repeat)
    return report


def _issue_owners() -> dict[Basis, SystemicIssue]:
    """For each basis of an issue that is not dismissed: the issue owning it now.

    A merged issue's basis belongs to the issue it was merged into (followed to the
    end of the chain); a chain that ends in a dismissed issue frees the basis.
    """
    issues = {
        issue.pk: issue
        for issue in SystemicIssue.objects.exclude(state=SystemicIssueState.DISMISSED)
    }
    owners: dict[Basis, SystemicIssue] = {}
    for issue in sorted(issues.values(), key=lambda i: (i.proposed_at, i.pk)):
        target = _chain_end(issue, issues)
        if target.state != SystemicIssueState.MERGED:
            owners[basis_of(issue)] = target
    return owners


def _chain_end(issue: SystemicIssue, issues: dict[int, SystemicIssue]) -> SystemicIssue:
    """The issue a merged issue's merges lead to (itself when not merged)."""
    target, seen = issue, set()
    while target.state == SystemicIssueState.MERGED and target.pk not in seen:
        seen.add(target.pk)
        nxt = issues.get(target.merged_into_id)
        if nxt is None:
            break
        target = nxt
    return target


def _dismissed_at() -> dict[Basis, datetime]:
    """When each basis last had its issue dismissed: only newer incidents count again.

    An issue merged into one that was later dismissed (followed to the end of the
    chain) was dismissed with it: its basis, too, waits for newer incidents.
    """
    issues = {issue.pk: issue for issue in SystemicIssue.objects.all()}
    out: dict[Basis, datetime] = {}
    for issue in issues.values():
        target = _chain_end(issue, issues)
        if target.state == SystemicIssueState.DISMISSED and target.closed_at is not None:
            basis = basis_of(issue)
            out[basis] = max(out.get(basis, target.closed_at), target.closed_at)
    return out


def _candidate_bases(*, since: datetime, now: datetime, rules: ProposalRules) -> set[Basis]:
    """Components and pacts that meet the thresholds in the window (grouped in SQL)."""
    window = Incident.objects.filter(opened_at__gte=since, opened_at__lte=now)
    total = window.count()
    if total < rules.min_incidents:
        return set()
    live_agents = Agent.objects.exclude(status=AgentStatus.RETIRED)
    fleet = live_agents.count()
    found: set[Basis] = set()

    by_component = {
        row["agent__components"]: row["n"]
        for row in window.filter(agent__components__isnull=False)
        .values("agent__components")
        .annotate(n=Count("id", distinct=True), teams=Count("agent__team", distinct=True))
        .filter(n__gte=rules.min_incidents, teams__gte=rules.min_teams)
        .order_by()
    }
    if by_component:
        sizes = dict(
            Component.objects.filter(pk__in=by_component)
            .annotate(
                n=Count("agents", filter=~Q(agents__status=AgentStatus.RETIRED), distinct=True)
            )
            .values_list("pk", "n")
        )
        for pk, n in by_component.items():
            if _lift(n, sizes.get(pk, 0), total, fleet) >= rules.min_lift:
                found.add((SystemicIssueBasis.COMPONENT, pk))

    by_pact = {
        row["pact"]: row["n"]
        for row in window.filter(pact__isnull=False)
        .values("pact")
        .annotate(n=Count("id"), teams=Count("agent__team", distinct=True))
        .filter(n__gte=rules.min_incidents, teams__gte=rules.min_teams)
        .order_by()
    }
    if by_pact:
        sizes = dict(
            live_agents.filter(pact_version__pact__in=by_pact)
            .values("pact_version__pact")
            .annotate(n=Count("id"))
            .values_list("pact_version__pact", "n")
            .order_by()
        )
        for pk, n in by_pact.items():
            if _lift(n, sizes.get(pk, 0), total, fleet) >= rules.min_lift:
                found.add((SystemicIssueBasis.PACT, pk))
    return found


def _lift(incidents: int, agents: int, total: int, fleet: int) -> float:
    """How much likelier an incident is with the component (or pact) than without it.

    The incident rate of the agents sharing it over the rate of the other agents
    (relative risk). Shared by the whole fleet, it explains nothing (0); with no
    incident elsewhere, the lift is unbounded.
    """
    others = fleet - agents
    if agents <= 0 or others <= 0:
        return 0.0
    elsewhere = max(total - incidents, 0)
    if elsewhere == 0:
        return math.inf
    return (incidents / agents) / (elsewhere / others)


def _unlinked_rows(bases: Iterable[Basis], *, since, now) -> dict[Basis, list[_Row]]:
    """The window's incidents not linked to any issue, per basis they match (two queries)."""
    bases = set(bases)
    components = sorted(pk for kind, pk in bases if kind == SystemicIssueBasis.COMPONENT)
    pacts = sorted(pk for kind, pk in bases if kind == SystemicIssueBasis.PACT)
    window = (
        Incident.objects.filter(opened_at__gte=since, opened_at__lte=now)
        .filter(~Exists(SystemicIssueIncident.objects.filter(incident_id=OuterRef("pk"))))
        .order_by("opened_at", "pk")
    )
    out: dict[Basis, list[_Row]] = defaultdict(list)
    if components:
        wanted = set(components)
        for pk, agent_id, team_id, opened_at, component_id in window.filter(
            agent__components__in=components
        ).values_list("pk", "agent_id", "agent__team_id", "opened_at", "agent__components"):
            if component_id in wanted:
                out[(SystemicIssueBasis.COMPONENT, component_id)].append(
                    _Row(pk, agent_id, team_id, opened_at)
                )
    if pacts:
        for pk, agent_id, team_id, opened_at, pact_id in window.filter(
            pact_id__in=pacts
        ).values_list("pk", "agent_id", "agent__team_id", "opened_at", "pact_id"):
            out[(SystemicIssueBasis.PACT, pact_id)].append(_Row(pk, agent_id, team_id, opened_at))
    return out


def _take(rows: dict[Basis, list[_Row]], bases: list[Basis], taken: set[int]) -> list[_Row]:
    found = []
    for basis in bases:
        for row in rows.get(basis, []):
            if row.incident_id not in taken:
                taken.add(row.incident_id)
                found.append(row)
    return sorted(found, key=lambda r: (r.opened_at, r.incident_id))


def _links(issue, rows: list[_Row], *, source: str, actor, now) -> list[SystemicIssueIncident]:
    return [
        SystemicIssueIncident(
            issue=issue,
            incident_id=row.incident_id,
            agent_id=row.agent_id,
            team_id=row.team_id,
            opened_at=row.opened_at,
            repeat=issue.closed_at is not None and row.opened_at > issue.closed_at,
            source=source,
            linked_at=now,
            linked_by=actor,
        )
        for row in rows
    ]


def _propose(basis: Basis, rows: list[_Row], *, rules, actor, now) -> SystemicIssue:
    kind, pk = basis
    teams = list(
        Team.objects.filter(pk__in={r.team_id for r in rows})
        .order_by("name")
        .values_list("name", flat=True)
    )
    agents = len({r.agent_id for r in rows})
    if kind == SystemicIssueBasis.COMPONENT:
        name = Component.objects.get(pk=pk).name
        issue = SystemicIssue(basis=kind, component_id=pk)
    else:
        name = f"pact {Pact.objects.get(pk=pk).slug}"
        issue = SystemicIssue(basis=kind, pact_id=pk)
    issue.title = f"Incidents across {_join(teams)} on {name}"[:200]
    issue.description = (
        f"{len(rows)} incidents on {agents} agents of {len(teams)} teams in the "
        f"{rules.window.days} days to {now:%Y-%m-%d %H:%M} UTC share {name}."
    )
    issue.state = SystemicIssueState.PROPOSED
    issue.proposed_at = now
    return save_with_history(issue, actor=actor, reason="Proposed by the systemic issue job")


def _reopen(issue: SystemicIssue, *, first: _Row, actor, now) -> None:
    issue.state = SystemicIssueState.CONFIRMED
    issue.reopened_count += 1
    save_with_history(
        issue,
        actor=actor,
        reason=f"Recurred: incident #{first.incident_id} after it was closed",
        update_fields=["state", "reopened_count"],
    )


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def issues_refresh_counts(issue_ids: Iterable[int]) -> None:
    """Recount the incidents, teams and agents of these issues (read fields, no history)."""
    ids = sorted(set(issue_ids))
    if not ids:
        return
    counts = {
        row["issue_id"]: row
        for row in SystemicIssueIncident.objects.filter(issue_id__in=ids)
        .values("issue_id")
        .annotate(
            n=Count("id"),
            teams=Count("team_id", distinct=True),
            agents=Count("agent_id", distinct=True),
            last=Max("opened_at"),
        )
        .order_by()
    }
    for pk in ids:
        row = counts.get(pk, {})
        SystemicIssue.objects.filter(pk=pk).update(
            incident_count=row.get("n", 0),
            team_count=row.get("teams", 0),
            agent_count=row.get("agents", 0),
            last_incident_at=row.get("last"),
        )


# --- what operators do --------------------------------------------------------------


def _lock(issue: SystemicIssue) -> SystemicIssue:
    return SystemicIssue.objects.select_for_update().get(pk=issue.pk)


def _require_text(value: str | None, *, field: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(f"Give {what}.", field=field)
    return value


@transaction.atomic
def systemic_issue_confirm(*, issue: SystemicIssue, actor, note: str = "") -> SystemicIssue:
    """Confirm a proposed issue: it is known trust debt now. Confirming twice is a no-op."""
    require_fleet_wide(actor, permission=PERMISSION, what=f"confirm systemic issue #{issue.pk}")
    issue = _lock(issue)
    if issue.state == SystemicIssueState.CONFIRMED:
        return issue
    if issue.state != SystemicIssueState.PROPOSED:
        raise InvalidTransition(
            f"Systemic issue #{issue.pk} is {issue.state}; only a proposed issue can be confirmed.",
            field="state",
        )
    issue.state = SystemicIssueState.CONFIRMED
    issue.confirmed_at = timezone.now()
    issue.confirmed_by = actor
    return save_with_history(
        issue,
        actor=actor,
        reason=note or "Confirmed",
        update_fields=["state", "confirmed_at", "confirmed_by"],
    )


@transaction.atomic
def systemic_issue_dismiss(*, issue: SystemicIssue, actor, reason: str) -> SystemicIssue:
    """Dismiss an issue that is not a pattern; its incidents are unlinked.

    Its basis may be proposed again, counting only incidents opened afterwards.
    Dismissing twice is a no-op.
    """
    reason = _require_text(reason, field="reason", what="the reason for dismissing it")
    require_fleet_wide(actor, permission=PERMISSION, what=f"dismiss systemic issue #{issue.pk}")
    issue = _lock(issue)
    if issue.state == SystemicIssueState.DISMISSED:
        return issue
    if issue.state not in ACTIVE_ISSUE_STATES:
        raise InvalidTransition(
            f"Systemic issue #{issue.pk} is {issue.state}; only a proposed or confirmed "
            "issue can be dismissed.",
            field="state",
        )
    unlinked, _ = SystemicIssueIncident.objects.filter(issue=issue).delete()
    issue.state = SystemicIssueState.DISMISSED
    issue.closed_at = timezone.now()
    issue.resolution_note = reason
    save_with_history(
        issue,
        actor=actor,
        reason=f"Dismissed ({unlinked} incidents unlinked): {reason}",
        update_fields=["state", "closed_at", "resolution_note"],
    )
    issues_refresh_counts([issue.pk])
    return issue


@transaction.atomic
def systemic_issue_merge(
    *, issue: SystemicIssue, into: SystemicIssue, actor, reason: str = ""
) -> SystemicIssue:
    """Merge ``issue`` into ``into``: its incidents move there, and so do later ones.

    Both must be proposed or confirmed. Merging into the same issue again is a no-op.
    """
    require_fleet_wide(actor, permission=PERMISSION, what=f"merge systemic issue #{issue.pk}")
    if issue.pk == into.pk:
        raise ValidationFailed("An issue cannot be merged into itself.", field="into")
    first, second = sorted([issue.pk, into.pk])
    locked = {
        i.pk: i for i in SystemicIssue.objects.select_for_update().filter(pk__in=[first, second])
    }
    issue, into = locked[issue.pk], locked[into.pk]
    if issue.state == SystemicIssueState.MERGED and issue.merged_into_id == into.pk:
        return issue
    for candidate, name in ((issue, "issue"), (into, "into")):
        if candidate.state not in ACTIVE_ISSUE_STATES:
            raise InvalidTransition(
                f"Systemic issue #{candidate.pk} is {candidate.state}; only proposed or "
                "confirmed issues can be merged.",
                field=name,
            )
    now = timezone.now()
    moved = SystemicIssueIncident.objects.filter(issue=issue).update(
        issue=into, source=IssueLinkSource.MERGE, linked_at=now, linked_by=actor
    )
    issue.state = SystemicIssueState.MERGED
    issue.merged_into = into
    issue.closed_at = now
    issue.resolution_note = reason
    save_with_history(
        issue,
        actor=actor,
        reason=f"Merged into #{into.pk} ({moved} incidents moved)"
        + (f": {reason}" if reason else ""),
        update_fields=["state", "merged_into", "closed_at", "resolution_note"],
    )
    save_with_history(
        into,
        actor=actor,
        reason=f"Took over #{issue.pk} ({moved} incidents)",
        update_fields=["description"],
    )
    issues_refresh_counts([issue.pk, into.pk])
    return issue


@transaction.atomic
def systemic_issue_close(*, issue: SystemicIssue, actor, note: str) -> SystemicIssue:
    """Close a confirmed issue once fixed; a new incident on it later reopens it as a repeat."""
    note = _require_text(note, field="note", what="what fixed it")
    require_fleet_wide(actor, permission=PERMISSION, what=f"close systemic issue #{issue.pk}")
    issue = _lock(issue)
    if issue.state == SystemicIssueState.CLOSED:
        return issue
    if issue.state != SystemicIssueState.CONFIRMED:
        raise InvalidTransition(
            f"Systemic issue #{issue.pk} is {issue.state}; confirm it before closing it.",
            field="state",
        )
    issue.state = SystemicIssueState.CLOSED
    issue.closed_at = timezone.now()
    issue.resolution_note = note
    return save_with_history(
        issue,
        actor=actor,
        reason=f"Closed: {note}",
        update_fields=["state", "closed_at", "resolution_note"],
    )


@transaction.atomic
def systemic_issue_link_incidents(
    *, issue: SystemicIssue, incidents: Iterable[Incident], actor
) -> int:
    """Link incidents to a proposed or confirmed issue by hand; return how many were new.

    An incident already on this issue is left alone; one on another issue is
    refused (merge the issues instead).
    """
    issue = _lock(issue)
    if issue.state not in ACTIVE_ISSUE_STATES:
        raise InvalidTransition(
            f"Systemic issue #{issue.pk} is {issue.state}; link incidents to a proposed or "
            "confirmed issue.",
            field="issue",
        )
    rows = list(
        Incident.objects.filter(pk__in=[i.pk for i in incidents])
        .order_by("pk")
        .values_list("pk", "agent_id", "agent__team_id", "opened_at")
    )
    if not rows:
        raise ValidationFailed("Choose at least one incident.", field="incidents")
    authorize(
        actor,
        permission=PERMISSION,
        team_ids={team_id for _, _, team_id, _ in rows},
        what=f"link incidents to systemic issue #{issue.pk}",
    )
    existing = dict(
        SystemicIssueIncident.objects.filter(incident_id__in=[r[0] for r in rows]).values_list(
            "incident_id", "issue_id"
        )
    )
    elsewhere = sorted(pk for pk, issue_id in existing.items() if issue_id != issue.pk)
    if elsewhere:
        raise InvalidTransition(
            f"Incident #{elsewhere[0]} is linked to systemic issue "
            f"#{existing[elsewhere[0]]}; merge the issues instead.",
            field="incidents",
        )
    now = timezone.now()
    new = [_Row(*row) for row in rows if row[0] not in existing]
    SystemicIssueIncident.objects.bulk_create(
        _links(issue, new, source=IssueLinkSource.OPERATOR, actor=actor, now=now)
    )
    if new:
        save_with_history(
            issue,
            actor=actor,
            reason=f"Linked {len(new)} incident(s) by hand",
            update_fields=["description"],
        )
        issues_refresh_counts([issue.pk])
    return len(new)
