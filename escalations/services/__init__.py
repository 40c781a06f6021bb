"""escalations write services (keyword-only, typed, with an explicit actor).

Public entry points, by module:

* ``signals``: :func:`signal_ingest`, :func:`signals_ingest_bulk`
* ``incidents``: :func:`incident_acknowledge`, :func:`incident_assign`,
  :func:`incident_decide`, :func:`incident_resolve`, :func:`incident_escalate`,
  :func:`incident_reroute`
* ``decisions``: :func:`agent_decide` (a decision on an agent without an incident)
* ``promotion``: :func:`incidents_promote_overdue`
* ``risk``: :func:`risk_acceptance_request`, :func:`risk_acceptance_approve`,
  :func:`risk_acceptance_reject`, :func:`risk_acceptances_expire`
* ``freshness``: :func:`freshness_check`
* ``evidence``: :func:`evidence_signal_ingest` (the trust hand-off)
* ``silences``: :func:`silence_create`
* ``notifications``: :func:`notifications_deliver` (the outbox worker; the counts as
  JSON), :func:`notifications_deliver_due`, :func:`notification_retry`
* ``jobs``: :func:`job_run` (heartbeats of the periodic tasks), :func:`escalations_audit`

Internal building blocks: ``signal_input`` (validation, fingerprints), ``ladder``
(snapshots, deadlines), ``routing`` (the directory of counterparts and rules),
``consequences`` (what a decision does to the agent), ``transitions`` (effects,
locks, climbing) and ``outbox`` (:func:`outbox.notifications_enqueue_delivery`, the
one place Celery work is queued, on commit).
"""
