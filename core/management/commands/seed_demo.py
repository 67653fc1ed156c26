"""
Load demo data for the embedded mode.

Creates the `admin` superuser (its generated password is printed once, at creation) and
then runs each domain app's `demo.seed(stdout=...)` when the app has one, in dependency
order, so every app adds its own demo data here.
"""

import secrets
from importlib import import_module
from importlib.util import find_spec

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the demo admin user and every app's demo data (embedded mode only)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even when DATABASE_URL points at a real database.",
        )

    def handle(self, *args, force: bool = False, **options):
        if not settings.EMBEDDED and not force:
            raise CommandError(
                "seed_demo runs in embedded mode only (DATABASE_URL unset); "
                "use --force to override."
            )
        self._ensure_admin()
        call_command("setup_roles", stdout=self.stdout)
        for app in settings.DOMAIN_APPS:
            if find_spec(f"{app}.demo") is None:
                continue
            with transaction.atomic():
                import_module(f"{app}.demo").seed(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

    def _ensure_admin(self) -> None:
        User = get_user_model()
        if User.objects.filter(username=ADMIN_USERNAME).exists():
            self.stdout.write(
                f"Admin user '{ADMIN_USERNAME}' already exists (its password was printed when it "
                "was created; reset it with `manage.py changepassword admin`)."
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(ADMIN_USERNAME, "admin@frontline.local", password)
        banner = "=" * 64
        self.stdout.write(
            self.style.WARNING(
                f"\n{banner}\n  Admin login   http://127.0.0.1:8000/admin/\n"
                f"  username      {ADMIN_USERNAME}\n  password      {password}\n"
                f"  (shown once; it is not stored anywhere in clear)\n{banner}\n"
            )
        )
