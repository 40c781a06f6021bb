"""Decisions name their agent, and may be taken on an agent without an incident.

The agent is copied from each existing decision's incident before the column
becomes required.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_agents(apps, schema_editor):
    decision = apps.get_model("escalations", "Decision")
    incident = apps.get_model("escalations", "Incident")
    decision.objects.filter(agent__isnull=True).update(
        agent_id=Subquery(
            incident.objects.filter(pk=OuterRef("incident_id")).values("agent_id")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("escalations", "0005_lean_incident_indexes"),
        ("trust", "0003_recent_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="decision",
            name="agent",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="decisions",
                to="trust.agent",
            ),
        ),
        migrations.RunPython(copy_agents, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="decision",
            name="agent",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="decisions",
                to="trust.agent",
            ),
        ),
        migrations.AlterField(
            model_name="decision",
            name="incident",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="decisions",
                to="escalations.incident",
            ),
        ),
        migrations.AddIndex(
            model_name="decision",
            index=models.Index(fields=["agent", "-decided_at"], name="decision_agent_recent_idx"),
        ),
    ]
