"""Install the default schedules of the escalations jobs into django-celery-beat.

Interval schedules, editable in the admin; a task that already exists (by task
name) is left as the operators set it, so replaying this is harmless.
"""

from django.db import migrations


def install(apps, schema_editor):
    from escalations.schedules import install_schedules

    install_schedules(apps)


def uninstall(apps, schema_editor):
    from escalations.schedules import uninstall_schedules

    uninstall_schedules(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("escalations", "0003_job_heartbeats_notification_timeline"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
