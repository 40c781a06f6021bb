"""escalations reads: querysets with their joins decided in one place."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Case, F, Prefetch, QuerySet, When
from django_celery_beat.models import PeriodicTask

from atoc.core.exceptions import NotFound
from escalations.choices import IncidentState
from escalations.models import (
    Control,
    Counterpart,
    Incident,
    JobHeartbeat,
    RoutingRule,
    SeverityLevel,
    Signal,
    TimelineEntry,
)
from escalations.schedules import AUDIT_JOB, PERIOD_SECONDS, PERIODIC_JOBS, PeriodicJob
from escalations.services.evidence import EVIDENCE_SOURCE
from escalations.services.promotion import overdue_q


def incident_list() -> QuerySet[Incident]:
    """Incidents with what a list row shows (agent, team, severity, owner, counterparts)."""
    return Incident.objects.select_related(
        "agent__team", "severity", "owner", "control", "pact"
    ).prefetch_related("counterparts")


def incident_get(*, pk: int) -> Incident:
    """The incident with this id, or ``NotFound`` naming the field."""
    try:
        return incident_list().get(pk=pk)
    except Incident.DoesNotExist:
        raise NotFound(f"No incident {pk}.", field="incident") from None


def incidents_unresolved(*, agent_id: int | None = None) -> QuerySet[Incident]:
    """Incidents still needing something (open, acknowledged or decided)."""
    qs = incident_list().exclude(state=IncidentState.RESOLVED)
    return qs.filter(agent_id=agent_id) if agent_id is not None else qs


def incident_timeline(*, incident: Incident) -> QuerySet[TimelineEntry]:
    return (
        TimelineEntry.objects.filter(incident=incident).select_related("actor").order_by("at", "id")
    )


def incidents_promotion_late(*, now: datetime, grace: timedelta) -> QuerySet[Incident]:
    """Incidents whose promotion is overdue by more than ``grace`` (one sweep interval).

    Non-empty means the sweeper is not running: the scheduler or the workers are down.
    """
    return Incident.objects.filter(overdue_q(now - grace))


def signal_list() -> QuerySet[Signal]:
    return Signal.objects.select_related("agent", "incident", "control", "silence")


# --- the API (and the trust hand-back) -----------------------------------------------

SIGNAL_ROW_FIELDS = (
    *("id", "kind", "observed_at", "value", "source", "idempotency_key", "payload"),
    *("pact", "received_at", "incident", "suppressed", "agent", "agent__slug"),
)


def _counterpart_briefs() -> Prefetch:
    return Prefetch(
        "counterparts", queryset=Counterpart.objects.only("id", "name", "function").order_by("name")
    )


def incident_rows() -> QuerySet:
    """Incidents as plain rows with what an API row shows (agent slug, level name, owner).

    A ``values()`` queryset: a page of 50 costs one query and no model instances;
    :func:`incident_counterparts_brief` adds the counterparts of a page.
    """
    return Incident.objects.values(
        *("id", "kind", "state", "signal_count", "opened_at", "ack_due_at"),
        *("acknowledged_at", "decision_due_at", "decided_at", "resolved_at"),
        agent_slug=F("agent__slug"),
        severity_name=F("severity__name"),
        owner_username=F("owner__username"),
    )


def incident_counterparts_brief(incident_ids: Iterable[int]) -> dict[int, list[dict]]:
    """``{incident id: [{"id", "name", "function"}]}``, by name: who each is routed to now.

    One query for a whole page, as plain rows (no model instances).
    """
    rows = (
        Incident.counterparts.through.objects.filter(incident_id__in=list(incident_ids))
        .order_by("counterpart__name", "counterpart_id")
        .values_list("incident_id", "counterpart_id", "counterpart__name", "counterpart__function")
    )
    briefs: dict[int, list[dict]] = {}
    for incident_id, pk, name, function in rows:
        briefs.setdefault(incident_id, []).append({"id": pk, "name": name, "function": function})
    return briefs


def signal_list_brief() -> QuerySet[Signal]:
    """Signals with their agent's slug (one query per page)."""
    return Signal.objects.select_related("agent").only(*SIGNAL_ROW_FIELDS)


def severity_level_list() -> QuerySet[SeverityLevel]:
    """The ladder, lowest rank first."""
    return SeverityLevel.objects.order_by("rank")


def control_list() -> QuerySet[Control]:
    """Controls with their opening level and owner."""
    return Control.objects.select_related("opening_severity", "owner")


def counterpart_list() -> QuerySet[Counterpart]:
    """Counterparts with their team; the webhook signing secret is never loaded."""
    return Counterpart.objects.select_related("team").defer("webhook_secret")


def routing_rule_list() -> QuerySet[RoutingRule]:
    """Routing rules with their criteria and counterparts (two queries per page)."""
    return RoutingRule.objects.select_related("team", "min_severity").prefetch_related(
        _counterpart_briefs()
    )


def incident_summaries_open_for_agent(agent) -> list[dict]:
    """``[{"id", "severity", "state"}]`` of the agent's unresolved incidents (one query).

    Registered as trust's open-incidents provider (the trust statement lists them).
    """
    rows = (
        Incident.objects.filter(agent_id=agent.pk)
        .exclude(state=IncidentState.RESOLVED)
        .order_by("id")
        .values_list("id", "severity__name", "state")
    )
    return [{"id": pk, "severity": severity, "state": state} for pk, severity, state in rows]


def signal_summaries_for_source_key(source_key: str) -> list[dict]:
    """``[{"id", "kind", "incident"}]`` of the signals raised from one piece of trust evidence.

    Registered as trust's signals provider: an evaluation or a dispute answers with
    the signals it raised (their idempotency key is the hand-off's source key).
    """
    rows = (
        Signal.objects.filter(source=EVIDENCE_SOURCE, idempotency_key=source_key)
        .order_by("id")
        .values_list("id", "kind", "incident_id")
    )
    return [{"id": pk, "kind": kind, "incident": incident} for pk, kind, incident in rows]


def incidents_promotion_late_since(*, now: datetime, grace: timedelta) -> QuerySet:
    """``(id, due)`` of the incidents late for promotion, the longest overdue first."""
    return (
        incidents_promotion_late(now=now, grace=grace)
        .annotate(
            due=Case(
                When(state=IncidentState.OPEN, then=F("ack_due_at")),
                default=F("decision_due_at"),
            )
        )
        .order_by("due", "pk")
        .values_list("pk", "due")
    )


# --- the periodic jobs ----------------------------------------------------------------

JOB_LATE_AFTER_INTERVALS = 2


@dataclass
class JobStatus:
    """How one periodic job is doing: when it last ran against how often it should.

    ``scheduled`` is False when no enabled periodic task runs it (then it is never
    late); ``late`` when its last start (or, if it never ran, its schedule's start
    time) is older than two intervals, ``late_since`` being the moment it became late.
    """

    job: str
    name: str
    interval: timedelta
    scheduled: bool
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_error: str
    runs: int
    late: bool
    late_since: datetime | None

    @property
    def running(self) -> bool:
        """Started and not finished since (or killed before it could record the end)."""
        return self.last_started_at is not None and (
            self.last_finished_at is None or self.last_finished_at < self.last_started_at
        )

    def as_dict(self) -> dict:
        def iso(value):
            return value.isoformat() if value else None

        return {
            "job": self.job,
            "name": self.name,
            "interval_seconds": self.interval.total_seconds(),
            "scheduled": self.scheduled,
            "last_started_at": iso(self.last_started_at),
            "last_finished_at": iso(self.last_finished_at),
            "last_error": self.last_error,
            "runs": self.runs,
            "late": self.late,
            "late_since": iso(self.late_since),
        }


def _schedules(
    jobs: Iterable[PeriodicJob],
) -> dict[str, tuple[timedelta | None, datetime | None]]:
    """Per task name: its shortest enabled schedule (None when not an interval) and
    the earliest start time of its enabled schedules (None when one has none)."""
    schedules: dict[str, tuple[timedelta | None, datetime | None]] = {}
    rows = PeriodicTask.objects.filter(
        task__in=[job.task for job in jobs], enabled=True
    ).values_list("task", "interval__every", "interval__period", "start_time")
    for task, every, period, start in rows:
        interval = (
            timedelta(seconds=every * PERIOD_SECONDS[period])
            if every is not None and period in PERIOD_SECONDS
            else None
        )
        if task not in schedules:
            schedules[task] = (interval, start)
            continue
        current, since = schedules[task]
        if interval is not None and (current is None or interval < current):
            current = interval
        schedules[task] = (current, None if since is None or start is None else min(since, start))
    return schedules


def heartbeats_status(
    *, now: datetime, jobs: Iterable[PeriodicJob] = PERIODIC_JOBS
) -> list[JobStatus]:
    """Every periodic job (of escalations, or ``jobs``): last run, interval, late or not.

    The expected interval is the job's enabled schedule in django-celery-beat (as
    edited in the admin), else its default. A job is late when it has not started for
    ``JOB_LATE_AFTER_INTERVALS`` intervals; one that never ran is late that long after
    its schedule's start time (when it was installed), so a center that has just been
    installed is not reported down before its scheduler had a chance. Two queries
    whatever the number of jobs.
    """
    jobs = list(jobs)
    beats = {beat.job: beat for beat in JobHeartbeat.objects.filter(job__in=[j.task for j in jobs])}
    schedules = _schedules(jobs)
    statuses = []
    for job in jobs:
        beat = beats.get(job.task)
        scheduled_interval, scheduled_since = schedules.get(job.task, (None, None))
        interval = scheduled_interval or job.interval
        started = beat.last_started_at if beat else None
        reference = started or scheduled_since
        late_since = reference + interval * JOB_LATE_AFTER_INTERVALS if reference else None
        is_scheduled = job.task in schedules
        statuses.append(
            JobStatus(
                job=job.task,
                name=job.name,
                interval=interval,
                scheduled=is_scheduled,
                last_started_at=started,
                last_finished_at=beat.last_finished_at if beat else None,
                last_error=beat.last_error if beat else "",
                runs=beat.runs if beat else 0,
                late=is_scheduled and (late_since is None or late_since < now),
                late_since=late_since,
            )
        )
    return statuses


def audit_report_latest() -> dict | None:
    """The auditor's last report (see ``services.jobs.escalations_audit``), if it ran."""
    beat = JobHeartbeat.objects.filter(job=AUDIT_JOB).only("last_result").first()
    return (beat.last_result or None) if beat else None
