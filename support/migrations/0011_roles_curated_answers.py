"""Curated-answer permissions for the staff groups (support.roles, now that the model exists)."""

from django.db import migrations

from support.roles import roles_sync


def _noop(apps, schema_editor):  # type: ignore[no-untyped-def]
    pass


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0010_answer_assist"),
        ("knowledge", "0005_curated_answers"),
    ]

    operations = [migrations.RunPython(roles_sync, _noop)]
