"""Opening and resolving settlement disputes."""

import re
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from atoc.core.exceptions import InvalidTransition, ValidationFailed
from atoc.core.history import save_with_history
from trust import handoff
from trust.choices import DisputeOutcome, DisputeState
from trust.models import Agent, Dispute
from trust.services.checks import require_aware, require_max_length
from trust.services.scores import score_recompute

_CURRENCY = re.compile(r"^[A-Z]{3}$")


@transaction.atomic
def dispute_open(
    *,
    agent: Agent,
    reference: str,
    counterparty: str,
    amount,
    currency: str,
    actor,
    description: str = "",
    opened_at=None,
) -> Dispute:
    """Record a settlement dispute about the agent's work and announce it.

    The reference is unique: opening the same reference again returns the
    existing dispute unchanged (a retried call creates nothing).
    """
    existing = Dispute.objects.filter(reference=reference).first()
    if existing is not None:
        if existing.agent_id != agent.pk:
            raise ValidationFailed(
                f"Reference {reference!r} belongs to another agent's dispute.", field="reference"
            )
        return existing
    if not reference:
        raise ValidationFailed("A settlement reference is required.", field="reference")
    require_max_length(reference, field="reference", limit=100)
    if not counterparty:
        raise ValidationFailed("Name the counterparty.", field="counterparty")
    require_max_length(counterparty, field="counterparty", limit=200)
    try:
        amount = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        raise ValidationFailed("Must be a decimal amount.", field="amount") from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationFailed("The amount at stake must be positive.", field="amount")
    if amount.as_tuple().exponent < -2 or abs(amount) >= Decimal("1e12"):
        raise ValidationFailed("At most 12 digits and 2 decimal places.", field="amount")
    currency = (currency or "").upper()
    if not _CURRENCY.match(currency):
        raise ValidationFailed("Use a three-letter ISO 4217 code.", field="currency")
    now = timezone.now()
    opened_at = require_aware(opened_at or now, field="opened_at")
    if opened_at > now:
        raise ValidationFailed("opened_at is in the future.", field="opened_at")
    dispute = Dispute(
        agent=agent,
        reference=reference,
        counterparty=counterparty,
        amount=amount,
        currency=currency,
        description=description,
        opened_at=opened_at,
        opened_by=actor,
    )
    try:
        with transaction.atomic():  # a concurrent open of the same reference wins
            save_with_history(dispute, actor=actor, reason="Dispute opened")
    except IntegrityError:
        existing = Dispute.objects.filter(reference=reference).first()
        if existing is None or existing.agent_id != agent.pk:
            raise ValidationFailed(
                f"Reference {reference!r} belongs to another agent's dispute.", field="reference"
            ) from None
        return existing
    handoff.announce(
        handoff.EvidenceEvent(
            kind=handoff.DISPUTE_OPENED,
            agent_id=agent.pk,
            observed_at=opened_at,
            source_key=f"dispute:{dispute.pk}",
            actor_id=actor.pk,
            data={"dispute_id": dispute.pk, "amount": str(amount), "currency": currency},
        )
    )
    return dispute


@transaction.atomic
def dispute_resolve(
    *, dispute: Dispute, outcome: str, actor, note: str = "", resolved_at=None
) -> Dispute:
    """Close a dispute with its outcome; a dispute lost by the agent lowers its score.

    Resolving again with the same outcome is a no-op; with another outcome it is
    refused.
    """
    if outcome not in DisputeOutcome.values:
        raise ValidationFailed(
            f"Unknown outcome {outcome!r}; use one of {', '.join(DisputeOutcome.values)}.",
            field="outcome",
        )
    dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
    if dispute.state == DisputeState.RESOLVED:
        if dispute.outcome == outcome:
            return dispute
        raise InvalidTransition(
            f"Dispute {dispute.reference} is already resolved ({dispute.outcome}).",
            field="outcome",
        )
    now = timezone.now()
    resolved_at = require_aware(resolved_at or now, field="resolved_at")
    if resolved_at < dispute.opened_at:
        raise ValidationFailed("resolved_at precedes opened_at.", field="resolved_at")
    if resolved_at > now:
        raise ValidationFailed("resolved_at is in the future.", field="resolved_at")
    dispute.state = DisputeState.RESOLVED
    dispute.outcome = outcome
    dispute.resolution_note = note
    dispute.resolved_at = resolved_at
    dispute.resolved_by = actor
    save_with_history(
        dispute,
        actor=actor,
        reason=f"Dispute resolved: {outcome}",
        update_fields=["state", "outcome", "resolution_note", "resolved_at", "resolved_by"],
    )
    if outcome == DisputeOutcome.AGAINST_AGENT:
        score_recompute(
            agent=dispute.agent, actor=actor, reason=f"Dispute {dispute.reference} lost"
        )
    return dispute
