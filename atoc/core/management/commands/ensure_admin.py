"""Create the local admin login once and print it (used by the run command)."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create (once) a superuser for the local center and print its login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        password_file = settings.VAR_DIR / "admin-password"
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        password = password_file.read_text().strip() if password_file.exists() else ""
        if user is None or not password or not user.check_password(password):
            password = secrets.token_urlsafe(12)
            if user is None:
                user = user_model.objects.create_superuser(
                    username=username, email=f"{username}@localhost", password=password
                )
            else:
                user.set_password(password)
                user.save(update_fields=["password"])
            settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        self.stdout.write(
            self.style.SUCCESS(
                "\n  Admin login: http://127.0.0.1:8000/admin/\n"
                f"    username: {username}\n    password: {password}\n"
            )
        )
