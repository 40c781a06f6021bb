from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class OperatorScope(models.Model):
    """Limits an operator to the agents of some teams.

    A user with a scope acts (acknowledges, decides, reviews, restricts…) only on
    agents of ``teams``; a user without one acts fleet-wide, as far as the user's
    permissions allow. Viewing is not limited: the fleet picture is shared.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="atoc_scope"
    )
    teams = models.ManyToManyField("trust.Team", blank=True, related_name="+")
    note = models.CharField(max_length=200, blank=True)

    history = HistoricalRecords(m2m_fields=[teams])

    class Meta:
        ordering = ["user__username"]
        verbose_name = "operator team scope"

    def __str__(self) -> str:
        return f"Scope of {self.user}"
