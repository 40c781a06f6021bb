from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from trust.choices import EvaluatorKind, Verdict

SHA256_PATTERN = r"^[0-9a-f]{64}$"


class Evaluation(models.Model):
    """Evidence that an agent was checked against a pact version (append-only).

    The fields line up with the OpenTelemetry GenAI ``gen_ai.evaluation.result``
    event. Once written an evaluation is never updated or deleted: no service
    changes it, the admin shows it read-only, and the API has no write but create.
    """

    agent = models.ForeignKey("trust.Agent", on_delete=models.PROTECT, related_name="evaluations")
    pact_version = models.ForeignKey(
        "trust.PactVersion", on_delete=models.PROTECT, related_name="evaluations"
    )
    evaluator = models.CharField(max_length=200, help_text="Who or what ran the evaluation.")
    evaluator_kind = models.CharField(max_length=16, choices=EvaluatorKind.choices)
    independent = models.BooleanField(
        default=False, help_text="Whether the evaluator is independent of the owning team."
    )
    suite = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    completed_at = models.DateTimeField()
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    passed_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    trace_url = models.URLField(max_length=500, blank=True)
    evidence_uri = models.CharField(max_length=500, blank=True)
    evidence_sha256 = models.CharField(
        max_length=64, blank=True, help_text="Lower-case hex SHA-256 digest of the evidence."
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-completed_at", "-id"]
        indexes = [
            models.Index(fields=["agent", "-completed_at"], name="evaluation_agent_recent_idx"),
            models.Index(fields=["-completed_at", "-id"], name="evaluation_recent_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(completed_at__gte=F("started_at")),
                name="evaluation_completed_after_start",
            ),
            models.CheckConstraint(
                condition=Q(evidence_sha256="") | Q(evidence_sha256__regex=SHA256_PATTERN),
                name="evaluation_sha256_hex",
            ),
            models.CheckConstraint(
                condition=Q(verdict__in=Verdict.values), name="evaluation_verdict_valid"
            ),
            models.CheckConstraint(
                condition=Q(evaluator_kind__in=EvaluatorKind.values),
                name="evaluation_evaluator_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Evaluation #{self.pk} of {self.agent_id} ({self.verdict})"

    @property
    def pass_rate(self) -> float:
        total = self.passed_count + self.failed_count
        return self.passed_count / total if total else 0.0


class EvaluationResult(models.Model):
    """The measured value of one obligation in one evaluation, and whether it passed."""

    evaluation = models.ForeignKey(Evaluation, on_delete=models.PROTECT, related_name="results")
    obligation = models.ForeignKey(
        "trust.Obligation", on_delete=models.PROTECT, related_name="results"
    )
    value = models.FloatField()
    label = models.CharField(max_length=100, blank=True)
    explanation = models.TextField(blank=True)
    passed = models.BooleanField()

    class Meta:
        ordering = ["evaluation", "obligation"]
        constraints = [
            models.UniqueConstraint(
                fields=["evaluation", "obligation"], name="evaluationresult_unique_obligation"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.obligation_id}={self.value:g} ({'pass' if self.passed else 'fail'})"
