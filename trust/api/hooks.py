"""Read hooks the floors above trust fill in, so trust's API never imports them.

trust must not import escalations, yet two trust answers show escalations data:
the trust statement lists the agent's open incidents, and an evaluation or a
dispute answers with the signals it raised. ``escalations`` registers a provider
for each in its ``AppConfig.ready()``::

    from trust.api import hooks
    hooks.register_open_incidents_provider(open_incidents_for_agent)
    hooks.register_signals_provider(signals_for_source_key)

Until a provider is registered the answers hold empty lists.
"""

from collections.abc import Callable

OpenIncidentsProvider = Callable[[object], list[dict]]
SignalsProvider = Callable[[str], list[dict]]

_open_incidents_provider: OpenIncidentsProvider | None = None
_signals_provider: SignalsProvider | None = None


def register_open_incidents_provider(provider: OpenIncidentsProvider | None) -> None:
    """Set the function giving an agent's open incidents as ``[{"id", "severity", "state"}]``.

    It receives the ``Agent`` and should cost one query. ``None`` unregisters.
    """
    global _open_incidents_provider
    _open_incidents_provider = provider


def register_signals_provider(provider: SignalsProvider | None) -> None:
    """Set the function giving the signals raised from a piece of evidence.

    It receives the hand-off ``source_key`` (``evaluation:<id>``, ``dispute:<id>``)
    and returns ``[{"id", "kind", "incident"}]`` (``incident`` may be null).
    """
    global _signals_provider
    _signals_provider = provider


def open_incidents_for(agent) -> list[dict]:
    """The agent's open incidents, normalised to exactly ``id``, ``severity``, ``state``."""
    if _open_incidents_provider is None:
        return []
    rows = [
        {"id": int(row["id"]), "severity": str(row["severity"]), "state": str(row["state"])}
        for row in _open_incidents_provider(agent)
    ]
    return sorted(rows, key=lambda row: row["id"])


def signals_for(source_key: str) -> list[dict]:
    """The signals raised from the evidence with this hand-off source key."""
    if _signals_provider is None:
        return []
    return [
        {
            "id": int(row["id"]),
            "kind": str(row["kind"]),
            "incident": None if row.get("incident") is None else int(row["incident"]),
        }
        for row in _signals_provider(source_key)
    ]
