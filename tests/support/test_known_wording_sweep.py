"""Re-scoring the known-wording settings from evaluation records (``calibrate --known-wordings``)."""

import json
from dataclasses import asdict
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from pytest_django import Settings

from support.evaluation.known_wordings import Tally, sweep, tally
from support.evaluation.runner import QuestionRecord

# Cosines as support.services.known_wordings records them: the nearest line of the retrieved
# articles, of the top one, and the nearest known gap.
NEAR = {"known_wording": 0.95, "known_wording_top": 0.95, "known_gap": 0.85}  # 0.10 above its gap
CLOSE = {"known_wording": 0.93, "known_wording_top": 0.93, "known_gap": 0.90}  # 0.03 above


def _record(source: str, in_scope: bool, features: dict[str, float]) -> QuestionRecord:
    """A question the retrieval features alone would escalate (all 0: confidence ≈ 0.0002 with the
    shipped weights), so only the known-wording rules can answer it; in scope ones cite the
    right article with the fact."""
    return QuestionRecord(
        id=f"{source}-{len(features)}", in_scope=in_scope, status="answered", confidence=0.0,
        features=dict(features), answerer_factor=1.0, has_answer=True, answer_kind="extractive",
        contains_gold=in_scope, top_hit=in_scope, source=source,
    )  # fmt: skip


@pytest.fixture
def known_settings(settings: Settings) -> Settings:
    settings.KNOWN_GAP_MARGIN, settings.KNOWN_WORDING_SIMILARITY, settings.KNOWN_WORDING_MARGIN = 0.05, 0.89, 0.04
    settings.KNOWN_WORDING_LEAD_WEIGHT, settings.KNOWN_GAP_SAME = 0.0, 0.98
    return settings


def _records() -> list[QuestionRecord]:
    return [_record("a", True, NEAR), _record("a", False, CLOSE), _record("b", True, CLOSE), _record("b", True, NEAR)]


def test_a_setting_is_rescored_and_chosen_leaving_one_file_out(known_settings: Settings) -> None:
    """At the margin in force (0.04) only the questions 0.10 above their gap are raised past the
    threshold; at 0.02 the 0.03 ones are too, a right answer in file b and an unanswerable question
    answered in file a. Left out, each file gets the value the other one prefers."""
    records = _records()
    assert records[0].confidence_for(None, wording_margin=0.04) == pytest.approx(0.95)
    assert records[1].confidence_for(None, wording_margin=0.04) < 0.01
    assert tally(records, 0.6) == Tally()  # no setting given: the recorded confidences (0 here)
    assert tally(records, 0.6, wording_margin=0.04) == Tally(right=2)
    assert tally(records, 0.6, wording_margin=0.02) == Tally(right=3, unanswerable_answered=1)
    result = sweep(records, 0.6, "wording_margin")
    assert result.current == 0.04 and result.total(0.04) == Tally(right=2)
    assert result.tallies[0.02] == {"a": Tally(right=1, unanswerable_answered=1), "b": Tally(right=2)}
    assert result.chosen_without("a") == 0.0  # b alone: every margin up to 0.03 gains, the first wins the tie
    assert result.chosen_without("b") == 0.04  # a alone: lower margins answer its unanswerable one


def test_the_command_prints_each_setting_from_json_reports(known_settings: Settings, tmp_path: Path) -> None:
    paths = []
    for source in ("a", "b"):
        path = tmp_path / f"{source}.json"
        records = [asdict(r) for r in _records() if r.source == source]
        report = {"configuration": {"questions_file": f"{source}.jsonl"}, "escalation": {"threshold": 0.6}}
        path.write_text(json.dumps({**report, "records": records}), encoding="utf-8")
        paths.append(path)
    out = StringIO()
    call_command("calibrate", "--from-json", *paths, "--known-wordings", stdout=out)
    text = out.getvalue()
    assert "KNOWN_WORDING_MARGIN (now 0.04)" in text and "KNOWN_GAP_MARGIN (now 0.05)" in text
    assert "KNOWN_WORDING_LEAD_WEIGHT (now 0)" in text and "KNOWN_GAP_SAME (now 0.98)" in text
    assert "b.jsonl: 0.04 → right 1 (1), wrong 0 (0), unanswerable answered 0 (0)" in text
    assert "a.jsonl: 0 → right 1 (1), wrong 0 (0), unanswerable answered 1 (0)" in text
    paths[1].write_text(paths[1].read_text().replace('"threshold": 0.6', '"threshold": 0.7'), encoding="utf-8")
    with pytest.raises(CommandError, match="one threshold"):
        call_command("calibrate", "--from-json", *paths, "--known-wordings", stdout=StringIO())
