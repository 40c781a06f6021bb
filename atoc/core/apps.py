from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "atoc.core"
    label = "core"
    verbose_name = "ATOC kernel"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from atoc.core import receivers
        from atoc.core.api import schema  # noqa: F401 - registers the Bearer scheme
        from atoc.core.models import ApiKey

        # Infrastructure only: cached API keys are dropped when they change.
        for name, signal in (("saved", post_save), ("deleted", post_delete)):
            signal.connect(
                receivers.api_key_changed, sender=ApiKey, dispatch_uid=f"core.key.{name}"
            )
        m2m_changed.connect(
            receivers.api_key_teams_changed,
            sender=ApiKey.teams.through,
            dispatch_uid="core.key.teams",
        )
        post_save.connect(
            receivers.account_changed, sender=get_user_model(), dispatch_uid="core.key.account"
        )
