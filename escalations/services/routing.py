"""Routing: which counterparts an incident goes to, and who is told at each level."""

from __future__ import annotations

from collections.abc import Iterable

from escalations.models import Counterpart, RoutingRule
from escalations.services.ladder import level_functions


class Directory:
    """Counterparts and routing rules, loaded once per service call (small tables)."""

    def __init__(self) -> None:
        self.counterparts: dict[int, Counterpart] = {
            c.pk: c for c in Counterpart.objects.all().only(
                "id", "name", "function", "team_id", "email", "webhook_url", "active"
            )
        }  # fmt: skip
        self._rules: list[tuple[RoutingRule, list[int]]] | None = None
        self._routes: dict[tuple, dict] = {}

    @property
    def rules(self) -> list[tuple[RoutingRule, list[int]]]:
        if self._rules is None:
            rules = RoutingRule.objects.select_related("min_severity").prefetch_related(
                "counterparts"
            )
            self._rules = [
                (rule, sorted(c.pk for c in rule.counterparts.all()))
                for rule in rules.order_by("order", "id")
            ]
        return self._rules

    def route(self, *, kind: str, team_id: int, tier: int, rank: int, owner_id: int) -> dict:
        """Who an incident with these traits goes to, as the routing snapshot keeps it.

        The matching rules with the most criteria set win (all of them, in order);
        without a match the default rule applies. The control's owner is always
        routed to.
        """
        cache_key = (kind, team_id, tier, rank, owner_id)
        if cache_key in self._routes:
            return self._routes[cache_key]
        matching = [
            (rule, ids)
            for rule, ids in self.rules
            if not rule.is_default
            and rule.kind in ("", kind)
            and rule.team_id in (None, team_id)
            and rule.tier in (None, tier)
            and (rule.min_severity_id is None or rank >= rule.min_severity.rank)
        ]
        used_default = False
        if matching:
            best = max(rule.specificity for rule, _ in matching)
            chosen = [(rule, ids) for rule, ids in matching if rule.specificity == best]
        else:
            chosen = [(rule, ids) for rule, ids in self.rules if rule.is_default]
            used_default = bool(chosen)
        counterpart_ids: list[int] = []
        for _, ids in chosen:
            counterpart_ids.extend(i for i in ids if i not in counterpart_ids)
        if owner_id not in counterpart_ids:
            counterpart_ids.append(owner_id)
        route = {
            "rules": [rule.pk for rule, _ in chosen],
            "default": used_default,
            "owner": owner_id,
            "counterparts": counterpart_ids,
        }
        self._routes[cache_key] = route
        return route

    def recipients(self, *, routed: Iterable[int], level: dict, team_id: int) -> list[int]:
        """Active counterparts to tell: those routed to plus the level's functions."""
        functions = level_functions(level)
        chosen = list(dict.fromkeys(routed))
        for cp in sorted(self.counterparts.values(), key=lambda c: c.pk):
            if cp.function in functions and cp.team_id in (None, team_id) and cp.pk not in chosen:
                chosen.append(cp.pk)
        return [pk for pk in chosen if pk in self.counterparts and self.counterparts[pk].active]
