"""Move an answer policy still at the earlier default threshold to the refitted one.

The confidence weights were refitted (README, answer quality) and 0.731 meant "answer 92 %
of KorQuAD" only under the old weights. A threshold someone set or calibrated
(``calibrate --store`` leaves a note) is left as it is.
"""

from django.db import migrations

from support.threshold_migration import move_untouched_threshold

PREVIOUS_DEFAULT = 0.731


class Migration(migrations.Migration):
    dependencies = [("support", "0014_verbose_names")]
    operations = [move_untouched_threshold(PREVIOUS_DEFAULT)]
