"""Read hooks the floors above escalations fill in, so escalations never imports them.

An incident shows the systemic issue it belongs to, but systemic issues are the
center's (``atoc/center``), a floor above. The center registers a provider in its
``AppConfig.ready()``::

    from escalations.api import hooks
    hooks.register_systemic_issue_provider(systemic_issue_ids_for_incidents)

Until one is registered every incident answers ``"systemic_issue": null``.
"""

from collections.abc import Callable, Iterable

SystemicIssueProvider = Callable[[list[int]], dict[int, int]]

_systemic_issue_provider: SystemicIssueProvider | None = None


def register_systemic_issue_provider(provider: SystemicIssueProvider | None) -> None:
    """Set the function linking incidents to systemic issues; ``None`` unregisters.

    It receives the ids of a page of incidents and returns ``{incident id:
    systemic issue id}`` for those linked to one (leave the others out). It is
    called once per page, so it should cost one query whatever the page size.
    """
    global _systemic_issue_provider
    _systemic_issue_provider = provider


def systemic_issues_for(incident_ids: Iterable[int]) -> dict[int, int]:
    """``{incident id: systemic issue id}`` for the incidents linked to one."""
    ids = sorted(set(incident_ids))
    if _systemic_issue_provider is None or not ids:
        return {}
    return {
        int(incident_id): int(issue_id)
        for incident_id, issue_id in _systemic_issue_provider(ids).items()
        if issue_id is not None
    }
