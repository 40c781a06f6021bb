"""Operator team scopes: which teams' agents an operator may act on."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from atoc.center.models import OperatorScope


@admin.register(OperatorScope)
class OperatorScopeAdmin(SimpleHistoryAdmin):
    """Reference data kept in history: a plain save records who changed a scope."""

    list_display = ("user", "team_names", "note")
    list_select_related = ("user",)
    filter_horizontal = ("teams",)
    autocomplete_fields = ("user",)
    search_fields = ("user__username",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("teams")

    @admin.display(description="teams")
    def team_names(self, scope):
        return ", ".join(team.name for team in scope.teams.all()) or "none (acts on nothing)"

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
