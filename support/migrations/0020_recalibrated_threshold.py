"""Move an answer policy still at the previous default threshold to the refitted one.

The confidence gate gained two second-order terms in the ninth session, ``sentence_squared``
and ``sentence_margin`` (README, answer quality), and its weights were refitted; 0.702594
meant "answer 90 % of KorQuAD" only under the previous weights. A threshold someone set or
calibrated (``calibrate --store`` leaves a note) is left as it is.
"""

from django.db import migrations

from support.threshold_migration import move_untouched_threshold

PREVIOUS_DEFAULT = 0.702594


class Migration(migrations.Migration):
    dependencies = [("support", "0019_recalibrated_threshold")]
    operations = [move_untouched_threshold(PREVIOUS_DEFAULT)]
