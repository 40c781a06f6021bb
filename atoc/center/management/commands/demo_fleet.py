"""Load the demo fleet (idempotent): ``manage.py demo_fleet``."""

from django.core.management.base import BaseCommand

from atoc.center.demo import DemoFleet


class Command(BaseCommand):
    help = (
        "Build the demo fleet: three teams, 36 agents, evaluations, scores, disputes, "
        "incidents at every stage, a proposed systemic issue, a fleet review and metrics."
    )

    def handle(self, *args, **options):
        report = DemoFleet(log=lambda line: self.stdout.write(f"  {line}")).build()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo fleet ready: {report.teams} teams, {report.agents} agents, "
                f"{report.evaluations} evaluations, {report.disputes} disputes, "
                f"{report.incidents} incidents, {report.issues} systemic issues added."
            )
        )
