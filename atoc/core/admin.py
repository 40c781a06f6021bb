"""Admin for API keys: list, create (the key is shown once), revoke. Never the hash."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from .models import ApiKey, ApiScope, IdempotencyRecord
from .services import api_key_create, api_key_revoke


class ApiKeyCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="admin implies every other scope.",
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "teams", "expires_at"]

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("The expiry is in the past.")
        return expires_at


@admin.register(ApiKey)
class ApiKeyAdmin(SimpleHistoryAdmin):
    """Keys are created here or with ``manage.py create_api_key`` and revoked, never edited."""

    list_display = [
        "name",
        "key_prefix",
        "scope_list",
        "team_list",
        "state",
        "created_at",
        "expires_at",
        "last_used_at",
    ]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["name", "prefix"]
    list_select_related = ["user"]
    filter_horizontal = ["teams"]
    actions = ["revoke_selected"]
    readonly_fields = [
        "name",
        "key_prefix",
        "scope_list",
        "team_list",
        "state",
        "user",
        "created_at",
        "created_by",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("teams")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "scopes", "teams", "expires_at"]
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    @admin.display(description="Key")
    def key_prefix(self, obj):
        return f"atoc_{obj.prefix}_…"

    @admin.display(description="Scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

    @admin.display(description="Teams")
    def team_list(self, obj):
        return ", ".join(str(t) for t in obj.teams.all()) or "all"

    @admin.display(description="State")
    def state(self, obj):
        return obj.state

    def save_model(self, request, obj, form, change):
        if change:
            return  # keys are not edited; revoke and create a new one
        api_key, raw = api_key_create(
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            teams=form.cleaned_data.get("teams") or (),
            expires_at=form.cleaned_data.get("expires_at"),
            actor=request.user,
        )
        obj.pk = api_key.pk
        obj.__dict__.update({k: v for k, v in api_key.__dict__.items() if k != "_state"})
        obj._state.adding = False
        obj._state.db = api_key._state.db
        self.message_user(
            request,
            f"API key created. Copy it now, it will not be shown again: {raw}",
            level=messages.WARNING,
        )

    def save_related(self, request, form, formsets, change):
        # Teams were set by the service; the form's M2M save would repeat it.
        return None

    def has_change_permission(self, request, obj=None):
        # A key is read-only once created: the change page is a view page.
        return False if obj is not None else super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke selected API keys")
    def revoke_selected(self, request, queryset):
        revoked = 0
        for api_key in queryset:
            if api_key.revoked_at is None:
                api_key_revoke(api_key=api_key, actor=request.user)
                revoked += 1
        self.message_user(request, f"Revoked {revoked} API key(s).", level=messages.SUCCESS)


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    """Read-only view of stored POST outcomes (for support)."""

    list_display = ["client", "key", "method", "path", "state", "status_code", "created_at"]
    list_filter = ["state"]
    search_fields = ["key", "client"]
    readonly_fields = [f.name for f in IdempotencyRecord._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
