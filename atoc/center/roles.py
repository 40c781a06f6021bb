"""The three roles of ATOC as Django groups, and the permissions each holds.

* **ATOC viewer** — reads everything of trust, escalations and the center (view
  permissions only): the fleet picture, incidents, agents, reviews, metrics.
* **ATOC operator** — a viewer who also acts: incidents (acknowledge, decide,
  resolve, escalate, risk acceptances, silences), agents (restrict, suspend,
  restore), fleet reviews, systemic issues and feedback. An operator with an
  :class:`~atoc.center.models.OperatorScope` acts only on the agents of its teams.
* **ATOC admin** — an operator who also configures: the ladder, controls,
  counterparts, routing rules, teams, pacts, API keys, schedules and scopes.

Plain data plus an installer that works on any app registry (a migration's or the
live one). It only adds what is missing, so an edited group keeps its extra
permissions and replaying it is harmless. A data migration installs the groups;
``post_migrate`` runs the installer again so models added later are covered.
"""

from __future__ import annotations

VIEWER = "ATOC viewer"
OPERATOR = "ATOC operator"
ADMIN = "ATOC admin"

# Every model of these apps can be viewed by every role.
VIEWED_APPS = ("trust", "escalations", "center")

OPERATOR_PERMISSIONS = (
    "escalations.change_incident",
    "escalations.add_riskacceptance",
    "escalations.change_riskacceptance",
    "escalations.add_silence",
    "escalations.change_silence",
    "escalations.add_signal",
    "trust.change_agent",
    "trust.add_dispute",
    "trust.change_dispute",
    "center.change_systemicissue",
    "center.change_fleetreview",
    "center.add_feedback",
    "center.change_feedback",
)

# Configuration: add/change/view on these models (nothing is deleted in ATOC).
ADMIN_MODELS = (
    "escalations.severitylevel",
    "escalations.control",
    "escalations.counterpart",
    "escalations.routingrule",
    "escalations.notification",
    "trust.team",
    "trust.component",
    "trust.agent",
    "trust.pact",
    "trust.pactversion",
    "trust.obligation",
    "core.apikey",
    "center.operatorscope",
    "django_celery_beat.periodictask",
    "django_celery_beat.intervalschedule",
    "django_celery_beat.crontabschedule",
)


def role_permissions(apps) -> dict[str, set[tuple[str, str]]]:
    """``{group name: {(app label, codename)}}`` for the models that exist now."""
    content_type_model = apps.get_model("contenttypes", "ContentType")
    permission_model = apps.get_model("auth", "Permission")
    viewed = {
        (ct_app, codename)
        for ct_app, codename in permission_model.objects.filter(
            content_type__app_label__in=VIEWED_APPS, codename__startswith="view_"
        ).values_list("content_type__app_label", "codename")
    }
    operator = viewed | {tuple(p.split(".", 1)) for p in OPERATOR_PERMISSIONS}
    admin = set(operator)
    for label in ADMIN_MODELS:
        app_label, model = label.split(".")
        if content_type_model.objects.filter(app_label=app_label, model=model).exists():
            admin |= {(app_label, f"{verb}_{model}") for verb in ("add", "change", "view")}
    return {VIEWER: viewed, OPERATOR: operator, ADMIN: admin}


def install_roles(apps) -> dict[str, int]:
    """Create the three groups if missing and add the permissions they lack.

    Returns how many permissions were added per group. Permissions whose model does
    not exist (yet) are skipped.
    """
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    added = {}
    for name, wanted in role_permissions(apps).items():
        group, _ = group_model.objects.get_or_create(name=name)
        have = set(group.permissions.values_list("content_type__app_label", "codename"))
        missing = wanted - have
        ids = []
        for app_label, codename in sorted(missing):
            pk = (
                permission_model.objects.filter(
                    content_type__app_label=app_label, codename=codename
                )
                .values_list("pk", flat=True)
                .first()
            )
            if pk is not None:
                ids.append(pk)
        if ids:
            group.permissions.add(*ids)
        added[name] = len(ids)
    return added


def install_roles_after_migrate(sender, **kwargs) -> None:
    """``post_migrate`` receiver: keep the groups' permissions current (infrastructure)."""
    from django.apps import apps as live_apps

    if kwargs.get("apps") is None or sender.label != "center":
        return
    install_roles(live_apps)
