"""Center write services (keyword-only, with an explicit actor), one module per aggregate.

* ``issues``: :func:`systemic_issues_propose` (the job), :func:`systemic_issue_confirm`,
  :func:`systemic_issue_dismiss`, :func:`systemic_issue_merge`,
  :func:`systemic_issue_close`, :func:`systemic_issue_link_incidents`
* ``reviews``: :func:`fleet_reviews_schedule` (the job), :func:`review_mark_agents`,
  :func:`review_record_findings`, :func:`review_complete`
* ``feedback``: :func:`feedback_record`
* ``agents``: :func:`agent_act` (restrict, suspend, restore: each a Decision)
* ``metrics``: :func:`metrics_snapshot_take` (the daily job)
"""
