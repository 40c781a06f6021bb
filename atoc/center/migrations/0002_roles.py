"""Create the ATOC roles (viewer, operator, admin) as groups with their permissions.

Permissions are normally created after all migrations ran; they are created here
first so the groups can hold them on a fresh database. Idempotent: only what is
missing is added.
"""

from django.db import migrations


def install(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    from atoc.center.roles import install_roles

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    install_roles(apps)


def uninstall(apps, schema_editor):
    from atoc.center.roles import ADMIN, OPERATOR, VIEWER

    apps.get_model("auth", "Group").objects.filter(name__in=[VIEWER, OPERATOR, ADMIN]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("center", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0001_initial"),
        ("escalations", "0004_periodic_tasks"),
        ("trust", "0003_recent_indexes"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
