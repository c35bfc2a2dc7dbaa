"""The staff groups (support.roles): Support agents and Content editors, with their permissions."""

from django.db import migrations

from support.roles import roles_sync


def _noop(apps, schema_editor):  # type: ignore[no-untyped-def]
    pass


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0006_feedback_and_insights"),
        ("knowledge", "0004_chunk_sentences"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(roles_sync, _noop),
    ]
