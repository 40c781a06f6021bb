"""Signal receivers of the kernel: cache invalidation only (no business rules)."""

from atoc.core.api.authentication import forget_api_key
from atoc.core.models import ApiKey


def api_key_changed(sender, instance: ApiKey, **kwargs) -> None:
    """A key was saved or deleted: drop its cached copy."""
    forget_api_key(instance.prefix)


def api_key_teams_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    """A key's team restriction changed (from either side of the relation)."""
    if not action.startswith("post_"):
        return
    if isinstance(instance, ApiKey):
        forget_api_key(instance.prefix)
        return
    keys = ApiKey.objects.all() if pk_set is None else ApiKey.objects.filter(pk__in=pk_set)
    for prefix in keys.values_list("prefix", flat=True):
        forget_api_key(prefix)


def account_changed(sender, instance, update_fields=None, **kwargs) -> None:
    """A service account was saved (perhaps disabled): drop its key's cached copy."""
    if update_fields is not None and "is_active" not in update_fields:
        return  # e.g. a login recording last_login
    for prefix in ApiKey.objects.filter(user_id=instance.pk).values_list("prefix", flat=True):
        forget_api_key(prefix)
