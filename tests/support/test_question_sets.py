"""The hand-written question sets in ``samples/questions/`` hold what their README promises:
every fact of an answerable question stands in the article it names, and every ``pair``
says the question's language and that article's language. A set whose facts drifted from
its articles would count right answers as wrong without anyone noticing."""

from pathlib import Path

import pytest

from knowledge.analysis import detect_language
from knowledge.importers import read_records
from support.evaluation.metrics import contains_fact
from support.evaluation.questionset import read_question_set

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
# Each question file and the articles folder it asks about (samples/questions/README.md).
SETS = {
    "nabi-market.jsonl": SAMPLES / "articles",
    "nabi-market-holdout.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-2.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-3.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-4.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-5.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-6.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-7.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-8.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-9.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-10.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-11.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-12.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-13.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-14.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-15.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-16.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-17.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-18.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-19.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-20.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-21.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-22.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-23.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-24.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-25.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-26.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-27.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-28.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-29.jsonl": SAMPLES / "articles",
    "nabi-market-holdout-30.jsonl": SAMPLES / "articles",
    "gureum-bike.jsonl": SAMPLES / "helpcentres" / "gureum-bike" / "articles",
}


def test_every_question_file_is_listed() -> None:
    assert {p.name for p in (SAMPLES / "questions").glob("*.jsonl")} == set(SETS)


@pytest.mark.parametrize("name", sorted(SETS))
def test_facts_stand_in_the_named_article_and_pairs_name_both_languages(name: str) -> None:
    records, errors = read_records(SETS[name])
    assert not errors
    articles = {r.slug: r for r in records}
    questions = read_question_set(SAMPLES / "questions" / name, {slug: r.title for slug, r in articles.items()})
    title_to_slug = {r.title: slug for slug, r in articles.items()}
    answerable = [q for q in questions if q.article_title]
    assert len(answerable) >= 40 and len(questions) - len(answerable) >= 20
    for q in questions:
        assert detect_language(q.question) == q.group[:2], q.id
        if not q.article_title:
            assert q.group in ("ko", "en") and not q.answers, q.id
            continue
        article = articles[title_to_slug[q.article_title]]
        assert q.group[3:] == article.language, q.id
        missing = [fact for fact in q.answers if not contains_fact(article.body, [fact])]
        assert not missing, (q.id, missing)


@pytest.mark.parametrize(
    "name",
    [
        "nabi-market.jsonl", "nabi-market-off-topic.jsonl",
        "nabi-market-holdout.jsonl", "nabi-market-holdout-off-topic.jsonl",  # written by someone else (nineteenth session)
    ],
)  # fmt: skip
def test_conversation_facts_stand_in_their_articles(name: str) -> None:
    """Every answerable turn's facts stand in its article; a turn no article answers
    (``"article": null``) names none and is written in the conversation's language."""
    from support.evaluation.conversations import read_conversations

    records, errors = read_records(SAMPLES / "articles")
    assert not errors
    articles = {r.slug: r for r in records}
    cases = read_conversations(SAMPLES / "conversations" / name, set(articles))
    assert len(cases) >= 20
    for case in cases:
        for turn in case.turns:
            if turn.article is None:
                assert not turn.facts and detect_language(turn.question) == case.language, case.id
                continue
            missing = [fact for fact in turn.facts if not contains_fact(articles[turn.article].body, [fact])]
            assert not missing, (case.id, missing)
    if name.endswith("off-topic.jsonl"):
        assert sum(turn.article is None for case in cases for turn in case.turns) == 24
