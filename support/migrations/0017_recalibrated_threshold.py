"""Move an answer policy still at the previous default threshold to the refitted one.

The confidence weights were refitted with term-proximity re-ranking on
(``RETRIEVAL_PROXIMITY_WEIGHT`` 0.1) and interrogatives (며칠, 얼마, how long …) dropped from
queries (README, answer quality); 0.734259 meant "answer 90 % of
KorQuAD" only under the previous weights. A threshold someone set or calibrated
(``calibrate --store`` leaves a note) is left as it is.
"""

from django.db import migrations

from support.threshold_migration import move_untouched_threshold

PREVIOUS_DEFAULT = 0.734259


class Migration(migrations.Migration):
    dependencies = [("support", "0016_recalibrated_threshold")]
    operations = [move_untouched_threshold(PREVIOUS_DEFAULT)]
