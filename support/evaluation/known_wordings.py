"""Choosing the known-wording settings from an evaluation's per-question records.

The confidence gate's rules about what support taught (:func:`support.confidence.known_wording_confidence`)
have four settings: ``KNOWN_GAP_MARGIN``, ``KNOWN_GAP_SAME``, ``KNOWN_WORDING_SIMILARITY`` and ``KNOWN_WORDING_MARGIN``;
the lead of the top article's nearest line over the nearest known gap, weighed between them, a
fourth: ``KNOWN_WORDING_LEAD_WEIGHT``. Their cosines are in every record's ``features``, so each
setting can be re-scored without asking a question again: the confidence before the rules is the
logistic of the features with the weights in force, the lead and the rules are applied with the
setting tried, then the recorded LLM factor. One setting is moved at a time, the others staying
as they are.

Each value is scored per source file by :class:`Tally` (answered right, answered wrongly,
unanswerable questions answered). The choice leaves one file out at a time: the value with the
best :attr:`Tally.net` (right minus every wrong answer) on the other files is scored on the
left-out one, the way the twenty-fifth session chose the shipped values (README, *Twenty-fifth
session*; that session's scratch script, now this module).

Only the gate is re-scored. The same-wording reorder (``KNOWN_WORDING_SAME``) and the known
answers (``KNOWN_ANSWER_SIMILARITY``) change which article is cited and what the excerpt holds,
which the records cannot replay: measure those with ``evaluate``.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings

from support.evaluation.runner import QuestionRecord

# The keyword of known_wording_confidence, its setting, and the values tried (the rule's off value first).
SETTINGS = {
    "gap_margin": ("KNOWN_GAP_MARGIN", (-1.0, 0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1)),
    "similarity": ("KNOWN_WORDING_SIMILARITY", (0.0, 0.86, 0.87, 0.88, 0.89, 0.9, 0.91, 0.92, 0.93, 0.95)),
    "wording_margin": ("KNOWN_WORDING_MARGIN", (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1)),
    "gap_same": ("KNOWN_GAP_SAME", (0.0, 0.95, 0.96, 0.97, 0.975, 0.98, 0.985, 0.99)),
    "lead_weight": (
        "KNOWN_WORDING_LEAD_WEIGHT",
        (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 60.0, 80.0, 100.0, 120.0),
    ),
}


@dataclass(frozen=True)
class Tally:
    """What the customers of one file got under one setting: counts of questions."""

    right: int = 0  # in scope, answered, the right article cited, the fact in the answer
    wrong: int = 0  # in scope and answered otherwise
    unanswerable_answered: int = 0  # out of scope and answered instead of escalated

    @property
    def net(self) -> int:
        """Right answers minus every wrong answer: the quantity the choice maximises."""
        return self.right - self.wrong - self.unanswerable_answered

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(
            self.right + other.right, self.wrong + other.wrong, self.unanswerable_answered + other.unanswerable_answered
        )


def tally(records: Iterable[QuestionRecord], threshold: float, **rule: float) -> Tally:
    """The :class:`Tally` of ``records`` answered at ``threshold`` (a confidence in [0, 1]) with
    the known-wording settings in ``rule`` (:meth:`QuestionRecord.confidence_for`; without any,
    the recorded confidences)."""
    right = wrong = unanswerable = 0
    for record in records:
        outcome = record.outcome(threshold, None, **rule)
        if outcome == "right":
            right += 1
        elif outcome == "wrong" and record.in_scope:
            wrong += 1
        elif outcome == "wrong":
            unanswerable += 1
    return Tally(right, wrong, unanswerable)


@dataclass(frozen=True)
class Sweep:
    """One setting tried at ``values`` (``current``: its value in force) on each source file."""

    name: str  # the keyword of known_wording_confidence
    setting: str  # its Django setting
    current: float
    values: tuple[float, ...]
    tallies: dict[float, dict[str, Tally]]  # value -> source file -> tally

    def total(self, value: float, sources: Iterable[str] | None = None) -> Tally:
        """The tally at ``value`` summed over ``sources`` (all files when None)."""
        by_source = self.tallies[value]
        return sum((by_source[s] for s in (by_source if sources is None else sources)), Tally())

    def chosen_without(self, left_out: str) -> float:
        """The value with the highest :attr:`Tally.net` over every file but ``left_out``; a tie
        goes to the value in force, then to the earlier value."""
        others = [s for s in self.tallies[self.current] if s != left_out]
        return max(self.values, key=lambda v: (self.total(v, others).net, v == self.current, -self.values.index(v)))


def sweep(records: Sequence[QuestionRecord], threshold: float, name: str) -> Sweep:
    """Try the setting ``name`` (a key of :data:`SETTINGS`) at its values, and at the value in
    force, on ``records`` grouped by their ``source``. Raises ``KeyError`` for another name."""
    setting, grid = SETTINGS[name]
    current = float(getattr(settings, setting))
    values = tuple(sorted({*grid, current}))
    sources = sorted({r.source for r in records})
    tallies = {
        value: {s: tally((r for r in records if r.source == s), threshold, **{name: value}) for s in sources}
        for value in values
    }
    return Sweep(name=name, setting=setting, current=current, values=values, tallies=tallies)


def format_sweep(result: Sweep) -> str:
    """The setting's table over all files, then the leave-one-file-out choice per file."""
    lines = [
        f"{result.setting} (now {result.current:g}), all files",
        f"  {'value':>7}  {'right':>6}  {'wrong':>6}  {'unanswerable answered':>22}  {'net':>5}",
    ]
    for value in result.values:
        t = result.total(value)
        mark = "  ← now" if value == result.current else ""
        lines.append(f"  {value:>7g}  {t.right:>6}  {t.wrong:>6}  {t.unanswerable_answered:>22}  {t.net:>5}{mark}")
    lines.append("  leaving one file out: the value chosen on the others, scored on it (against the value now)")
    held, now = Tally(), Tally()
    for source in result.tallies[result.current]:
        value = result.chosen_without(source)
        chosen, current = result.tallies[value][source], result.tallies[result.current][source]
        held, now = held + chosen, now + current
        lines.append(
            f"    {source}: {value:g} → right {chosen.right} ({current.right}), wrong {chosen.wrong} "
            f"({current.wrong}), unanswerable answered {chosen.unanswerable_answered} ({current.unanswerable_answered})"
        )
    lines.append(
        f"    left-out files together: right {held.right} ({now.right}), wrong {held.wrong} ({now.wrong}), "
        f"unanswerable answered {held.unanswerable_answered} ({now.unanswerable_answered})"
    )
    return "\n".join(lines)
