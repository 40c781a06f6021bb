"""Enumerations of the trust domain."""

from django.db import models


class AgentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    UNDER_REVIEW = "under_review", "Under review"
    RESTRICTED = "restricted", "Restricted"
    SUSPENDED = "suspended", "Suspended"
    RETIRED = "retired", "Retired"


class AgentAutonomy(models.TextChoices):
    FULL = "full", "Full"
    SUPERVISED = "supervised", "Supervised"
    HUMAN_IN_LOOP = "human_in_loop", "Human in the loop"
    NONE = "none", "None"


class AgentRouting(models.TextChoices):
    LIVE = "live", "Live"
    SHADOW = "shadow", "Shadow"
    BLOCKED = "blocked", "Blocked"


class AgentTier(models.IntegerChoices):
    TIER_1 = 1, "Tier 1 (most consequential)"
    TIER_2 = 2, "Tier 2"
    TIER_3 = 3, "Tier 3"


class PactVersionState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class Comparator(models.TextChoices):
    GTE = "gte", "≥ (at least)"
    GT = "gt", "> (more than)"
    LTE = "lte", "≤ (at most)"
    LT = "lt", "< (less than)"
    EQ = "eq", "= (exactly)"


class MetricUnit(models.TextChoices):
    RATIO = "ratio", "Ratio (0–1)"
    COUNT = "count", "Count (≥ 0)"
    SECONDS = "seconds", "Seconds (≥ 0)"
    SCORE = "score", "Score (any real number)"


class BreachSeverity(models.TextChoices):
    """Severity a breach of an obligation carries; names match the default ladder."""

    SEV1 = "SEV1", "SEV1 (critical)"
    SEV2 = "SEV2", "SEV2 (high)"
    SEV3 = "SEV3", "SEV3 (medium)"
    SEV4 = "SEV4", "SEV4 (low)"


class EvaluatorKind(models.TextChoices):
    HUMAN = "human", "Human"
    LLM_JUDGE = "llm_judge", "LLM judge"
    CODE = "code", "Code"


class Verdict(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"


class DisputeState(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class DisputeOutcome(models.TextChoices):
    FOR_AGENT = "for_agent", "Decided for the agent"
    AGAINST_AGENT = "against_agent", "Decided against the agent (lost)"
    SETTLED = "settled", "Settled"
    WITHDRAWN = "withdrawn", "Withdrawn"
