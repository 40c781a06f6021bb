"""Create an API key for an integration and print it once."""

from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from atoc.core.exceptions import DomainError
from atoc.core.history import get_system_user
from atoc.core.services import api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key: --name NAME --scopes read,signals:write,evaluations:write[,admin] "
        "[--team SLUG ...] [--expires-in-days N]. The key is printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="The integration using the key.")
        parser.add_argument(
            "--scopes",
            required=True,
            help="Comma-separated: read, signals:write, evaluations:write, admin.",
        )
        parser.add_argument(
            "--team",
            action="append",
            default=[],
            metavar="SLUG",
            help="Restrict the key to this team's agents (repeat for several teams).",
        )
        parser.add_argument("--expires-in-days", type=int, default=None, metavar="N")

    def handle(self, *args, name, scopes, team, expires_in_days, **options):
        team_model = apps.get_model(settings.ATOC_API_KEY_TEAM_MODEL)
        teams = []
        for slug in team:
            found = team_model.objects.filter(slug=slug).first()
            if found is None:
                raise CommandError(f"No team with slug {slug!r}.")
            teams.append(found)
        expires_at = None
        if expires_in_days is not None:
            if expires_in_days <= 0:
                raise CommandError("--expires-in-days must be a positive number of days.")
            expires_at = timezone.now() + timedelta(days=expires_in_days)
        try:
            api_key, raw = api_key_create(
                name=name,
                scopes=scopes,
                teams=teams,
                expires_at=expires_at,
                actor=get_system_user(),
            )
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc.message}" if exc.field else exc.message) from exc
        restriction = ", ".join(t.slug for t in teams) or "all teams"
        expiry = f"expires {api_key.expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "no expiry"
        self.stderr.write(
            f"Created API key {api_key.name!r} (scopes: {', '.join(api_key.scopes)}; "
            f"{restriction}; {expiry}). It is shown once; store it now:"
        )
        self.stdout.write(raw)
