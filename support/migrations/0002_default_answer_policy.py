from django.conf import settings
from django.db import migrations


def create_policy(apps, schema_editor):
    AnswerPolicy = apps.get_model("support", "AnswerPolicy")
    AnswerPolicy.objects.get_or_create(
        pk=1, defaults={"confidence_threshold": settings.ANSWER_CONFIDENCE_THRESHOLD}
    )


class Migration(migrations.Migration):
    dependencies = [("support", "0001_initial")]
    operations = [migrations.RunPython(create_policy, migrations.RunPython.noop)]
