"""Move an answer policy still at the previous default threshold to the refitted one.

The confidence weights were refitted after sentence splitting by pysbd, English stems,
cross-language aliases and answers cited from the top source's article (README, answer
quality); 0.659874 meant "answer 90 % of KorQuAD" only under the previous weights. A
threshold someone set or calibrated (``calibrate --store`` leaves a note) is left as it is.
"""

from django.db import migrations

from support.threshold_migration import move_untouched_threshold

PREVIOUS_DEFAULT = 0.659874


class Migration(migrations.Migration):
    dependencies = [("support", "0015_recalibrated_threshold")]
    operations = [move_untouched_threshold(PREVIOUS_DEFAULT)]
