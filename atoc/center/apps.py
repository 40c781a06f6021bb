from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CenterConfig(AppConfig):
    """The center: fleet trust picture, metrics, reviews, systemic issues, roles."""

    name = "atoc.center"
    label = "center"
    verbose_name = "Operations center"

    def ready(self) -> None:
        # Incidents in the escalations API show the systemic issue they belong to.
        from escalations.api import hooks

        from . import roles, selectors

        hooks.register_systemic_issue_provider(selectors.systemic_issue_ids_for_incidents)
        # Infrastructure, not a business rule: models added after the roles
        # migration get their permissions into the groups too.
        post_migrate.connect(
            roles.install_roles_after_migrate, sender=self, dispatch_uid="center.roles"
        )
