"""Install the default ladder, counterparts, controls and routing (editable in the admin)."""

from django.db import migrations


def install(apps, schema_editor):
    from escalations.defaults import install_defaults

    install_defaults(apps)


class Migration(migrations.Migration):
    dependencies = [("escalations", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
