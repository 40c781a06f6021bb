"""The default ladder, counterparts, controls and routing installed by a data migration.

Plain data plus one installer that works on any app registry (the migration's
historical models or the live ones), so tests and the demo install exactly what
the migration does. Installing is idempotent and never overwrites rows an operator
edited: existing rows (by name, or the kind/rank/default slot they would take) win.

Migration 0002 calls :func:`install_defaults` with the models as they were then: when
a later migration adds a required field to these models, copy this module's data
into 0002 first so that old migration keeps working.
"""

from datetime import timedelta

LADDER = [
    {
        "name": "SEV4",
        "rank": 1,
        "description": "Low: worth a look during working hours.",
        "ack_deadline": timedelta(hours=4),
        "decision_deadline": timedelta(days=3),
        "notify_functions": ["platform"],
        "leadership_visible": False,
        "automatic_consequence": "",
        "max_reminders": 0,
        "reminder_interval": None,
    },
    {
        "name": "SEV3",
        "rank": 2,
        "description": "Medium: a trust problem on one agent.",
        "ack_deadline": timedelta(hours=1),
        "decision_deadline": timedelta(days=1),
        "notify_functions": ["platform", "product"],
        "leadership_visible": False,
        "automatic_consequence": "",
        "max_reminders": 0,
        "reminder_interval": None,
    },
    {
        "name": "SEV2",
        "rank": 3,
        "description": "High: customers or money may be affected.",
        "ack_deadline": timedelta(minutes=15),
        "decision_deadline": timedelta(hours=4),
        "notify_functions": ["platform", "product", "security"],
        "leadership_visible": True,
        "automatic_consequence": "",
        "max_reminders": 0,
        "reminder_interval": None,
    },
    {
        "name": "SEV1",
        "rank": 4,
        "description": "Critical: the agent's autonomy is restricted until someone decides.",
        "ack_deadline": timedelta(minutes=5),
        "decision_deadline": timedelta(hours=1),
        "notify_functions": ["platform", "product", "security", "business"],
        "leadership_visible": True,
        "automatic_consequence": "restrict_autonomy",
        "max_reminders": 3,
        "reminder_interval": timedelta(minutes=15),
    },
]

COUNTERPARTS = [
    {
        "name": "Platform on-call",
        "function": "platform",
        "kind": "rotation",
        "email": "platform-oncall@example.com",
    },
    {
        "name": "Security on-call",
        "function": "security",
        "kind": "rotation",
        "email": "security-oncall@example.com",
    },
    {
        "name": "Product trust owner",
        "function": "product",
        "kind": "person",
        "email": "product-trust@example.com",
    },
    {
        "name": "Business operations",
        "function": "business",
        "kind": "rotation",
        "email": "business-ops@example.com",
    },
    {
        "name": "Finance controller",
        "function": "finance",
        "kind": "person",
        "email": "finance-controller@example.com",
    },
]

CONTROLS = [
    {
        "name": "Pact breach",
        "signal_kind": "pact_breach",
        "condition": {},
        "opening_severity": "SEV3",
        "owner": "Product trust owner",
        "consequence": "require_review",
        "description": "An evaluation failed an obligation of the agent's pact.",
    },
    {
        "name": "Score drop",
        "signal_kind": "score_drop",
        "condition": {"threshold": 100},
        "opening_severity": "SEV3",
        "owner": "Product trust owner",
        "consequence": "require_review",
        "description": "The trust score fell by 100 points or more at once.",
    },
    {
        "name": "Stale evaluation",
        "signal_kind": "evaluation_stale",
        "condition": {},
        "opening_severity": "SEV4",
        "owner": "Platform on-call",
        "consequence": "require_review",
        "description": "The newest evaluation is older than the pact's freshness window.",
    },
    {
        "name": "Incident flag",
        "signal_kind": "incident_flag",
        "condition": {},
        "opening_severity": "SEV2",
        "owner": "Security on-call",
        "consequence": "restrict_autonomy",
        "description": "A team flagged an incident involving the agent.",
    },
    {
        "name": "Settlement dispute",
        "signal_kind": "settlement_dispute",
        "condition": {},
        "opening_severity": "SEV3",
        "owner": "Finance controller",
        "consequence": "require_review",
        "description": "A counterparty disputed the settlement of the agent's work.",
    },
    {
        "name": "Custom signal",
        "signal_kind": "custom",
        "condition": {},
        "opening_severity": "SEV4",
        "owner": "Platform on-call",
        "consequence": "monitor",
        "description": "Signals from integrations that fit no other kind.",
    },
]

ROUTING_RULES = [
    {
        "name": "Default route",
        "order": 1000,
        "is_default": True,
        "counterparts": ["Platform on-call"],
    },
    {
        "name": "Settlement disputes to finance",
        "order": 10,
        "kind": "settlement_dispute",
        "counterparts": ["Finance controller", "Business operations"],
    },
]


def install_defaults(apps) -> None:
    """Create whatever of the defaults is missing (``apps``: an app registry)."""
    severity_model = apps.get_model("escalations", "SeverityLevel")
    counterpart_model = apps.get_model("escalations", "Counterpart")
    control_model = apps.get_model("escalations", "Control")
    rule_model = apps.get_model("escalations", "RoutingRule")

    for spec in LADDER:
        taken = severity_model.objects.filter(rank=spec["rank"]).exclude(name=spec["name"])
        if not taken.exists():
            fields = {k: v for k, v in spec.items() if k != "name"}
            severity_model.objects.get_or_create(name=spec["name"], defaults=fields)
    levels = {level.name: level for level in severity_model.objects.all()}

    for spec in COUNTERPARTS:
        fields = {k: v for k, v in spec.items() if k != "name"}
        counterpart_model.objects.get_or_create(name=spec["name"], defaults=fields)
    counterparts = {c.name: c for c in counterpart_model.objects.all()}

    for spec in CONTROLS:
        level = levels.get(spec["opening_severity"])
        owner = counterparts.get(spec["owner"])
        if level is None or owner is None:
            continue
        if control_model.objects.filter(signal_kind=spec["signal_kind"]).exists():
            continue
        control_model.objects.create(
            name=spec["name"],
            signal_kind=spec["signal_kind"],
            condition=spec["condition"],
            opening_severity=level,
            owner=owner,
            consequence=spec["consequence"],
            description=spec["description"],
        )

    for spec in ROUTING_RULES:
        if rule_model.objects.filter(name=spec["name"]).exists():
            continue
        if spec.get("is_default") and rule_model.objects.filter(is_default=True).exists():
            continue
        rule = rule_model.objects.create(
            name=spec["name"],
            order=spec["order"],
            kind=spec.get("kind", ""),
            is_default=spec.get("is_default", False),
        )
        rule.counterparts.set([counterparts[n] for n in spec["counterparts"] if n in counterparts])
