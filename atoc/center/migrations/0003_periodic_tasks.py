"""Install the default schedules of the center's jobs into django-celery-beat.

Interval schedules (the metrics snapshot daily), editable in the admin; a task
that already exists (by task name) is left as the operators set it.
"""

from django.db import migrations


def install(apps, schema_editor):
    from atoc.center.schedules import install_schedules

    install_schedules(apps)


def uninstall(apps, schema_editor):
    from atoc.center.schedules import uninstall_schedules

    uninstall_schedules(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("center", "0002_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
