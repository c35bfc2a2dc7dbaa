"""``manage.py evaluate`` / ``calibrate`` end to end on a small invented SQuAD file.

Real PostgreSQL/pgvector, the real local embedding model and the extractive answerer.
The KorQuAD benchmark itself is not run here (it takes minutes); see the README.
"""

import json
import re
import threading
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.utils import timezone

from knowledge.importers import read_known_gaps
from knowledge.models import LIVE_KNOWLEDGE_BASE, Article, Chunk, KnowledgeBase, KnownGap
from knowledge.services import article_content_hash
from support.confidence import FEATURES
from support.evaluation.runner import collection_lock, excluded_titles
from support.evaluation.squad import file_sha256, read_questions
from support.models import AnswerPolicy

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "squad_small.json"
EVAL_SLUG = f"eval-{file_sha256(FIXTURE)[:12]}"


@pytest.fixture(autouse=True)
def small_chunks(settings: Any) -> None:
    """Chunks of about one paragraph, so a hit must be the right chunk, not just the article."""
    settings.CHUNK_TOKENS, settings.CHUNK_OVERLAP_TOKENS = 60, 0


def _run(command: str, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(command, "--squad", str(FIXTURE), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _expected_scope() -> tuple[set[str], int, int]:
    """Titles out of scope at fraction 0.34 / seed 0, and the in/out-of-scope question counts."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    out = excluded_titles([e["title"] for e in data["data"]], 0.34, seed=0)
    questions = read_questions(FIXTURE)
    outside = sum(1 for q in questions if q.article_title in out)
    return out, len(questions) - outside, outside


def test_evaluate_builds_an_isolated_collection_and_reports_sane_figures(live_kb: Any, tmp_path: Path) -> None:
    target = tmp_path / "eval.json"
    stdout, stderr = _run("evaluate", "--exclude-fraction", "0.34", "--json", str(target))
    report = json.loads(target.read_text(encoding="utf-8"))

    kb = KnowledgeBase.objects.get(slug=EVAL_SLUG)
    assert report["configuration"]["knowledge_base"] == EVAL_SLUG != LIVE_KNOWLEDGE_BASE
    assert not Article.objects.filter(knowledge_base=live_kb).exists()
    out_titles, n_in, n_out = _expected_scope()
    assert len(out_titles) == 2
    drafts = Article.objects.filter(knowledge_base=kb, status=Article.Status.DRAFT)
    assert set(drafts.values_list("title", flat=True)) == out_titles
    assert not Chunk.objects.filter(article__in=drafts).exists()  # out of scope: not indexed
    assert Article.objects.filter(knowledge_base=kb, status=Article.Status.PUBLISHED).count() == 4

    counts = report["counts"]
    assert counts["articles"] == 6 and counts["articles_out_of_scope"] == 2
    assert (counts["questions_in_scope"], counts["questions_out_of_scope"]) == (n_in, n_out) == (12, 6)
    assert counts["chunks"] == Chunk.objects.filter(knowledge_base=kb).count() > 0
    assert len(report["records"]) == 18

    # Thresholds below were checked on this fixture (all retrievers find every answer).
    for mode in ("lexical", "dense", "hybrid"):
        assert report["retrieval"][mode]["questions"] == 12
        assert report["retrieval"][mode]["recall@20"] >= 0.9
    assert report["retrieval"]["hybrid"]["recall@5"] >= 0.9
    assert report["retrieval"]["hybrid"]["mrr@20"] >= 0.8
    escalation = report["escalation"]
    assert escalation["auroc"] >= 0.8
    records = report["records"]
    answered = [r for r in records if r["status"] == "answered"]  # what the service decided
    assert escalation["answered"] == len(answered)
    assert escalation["in_scope_answered"] == sum(r["in_scope"] for r in answered) / n_in
    assert escalation["threshold"] == AnswerPolicy.objects.get(pk=1).confidence_threshold
    # Escalated answerable questions, and how many list their own article among "These articles might help"
    escalated = [r for r in records if r["in_scope"] and r["status"] != "answered"]
    assert escalation["escalated_in_scope"] == len(escalated)
    suggested = sum(r["suggested"] for r in escalated) / len(escalated) if escalated else None
    assert escalation["escalated_in_scope_suggested"] == suggested
    right_first = [r for r in escalated if r["top_hit"] and r["contains_gold"]]
    assert escalation["escalated_in_scope_right_first"] == len(right_first)
    assert all(r["suggested"] for r in records if r["top_hit"])  # the first source's article is suggested
    assert not any(r["suggested"] for r in records if not r["in_scope"])
    answers = report["answers"]
    assert answers["answerer"] == "extractive"
    if answers["answered_in_scope"]:
        assert answers["contains_gold"] >= 0.7 and 0 < answers["f1"] <= 1
    assert {"embed", "sql_retrievers", "answer_assembly", "total"} <= set(report["latency_ms"])
    cfg = report["configuration"]
    assert cfg["embedding_dimensions"] == 384 and cfg["exclude_fraction"] == 0.34
    assert {"chunk_tokens", "retrieval_fusion", "bm25_k1", "hnsw_ef_search", "confidence_weights"} <= set(cfg)
    record = report["records"][0]
    assert {"in_scope", "confidence", "features", "top_hit", "contains_gold", "ranks"} <= set(record)

    assert "Retrieval" in stdout and "hybrid" in stdout and "AUROC" in stdout
    assert "indexing: 4 articles indexed" in stderr and "\r" in stderr


def test_second_run_reuses_the_index(live_kb: Any, tmp_path: Path) -> None:
    _run("evaluate", "--exclude-fraction", "0.34")
    kb = KnowledgeBase.objects.get(slug=EVAL_SLUG)
    before = sorted(Chunk.objects.filter(knowledge_base=kb).values_list("id", "article_id"))
    indexed_at = dict(Article.objects.filter(knowledge_base=kb).values_list("id", "indexed_at"))

    target = tmp_path / "again.json"
    _, stderr = _run(
        "evaluate", "--exclude-fraction", "0.34", "--limit-questions", "5", "--retrievers", "lexical", "--json",
        str(target),
    )  # fmt: skip
    report = json.loads(target.read_text(encoding="utf-8"))
    assert sorted(Chunk.objects.filter(knowledge_base=kb).values_list("id", "article_id")) == before
    assert dict(Article.objects.filter(knowledge_base=kb).values_list("id", "indexed_at")) == indexed_at
    assert report["indexing"]["articles_indexed"] == 0 and report["indexing"]["articles_reused"] == 4
    assert "0 articles indexed" in stderr
    assert len(report["records"]) == 5 and list(report["retrieval"]) == ["lexical"]
    assert KnowledgeBase.objects.filter(slug__startswith="eval-").count() == 1


def test_a_claim_left_by_a_killed_run_is_taken_over_not_answered_around(live_kb: Any) -> None:
    """A run killed mid-indexing (Ctrl-C) leaves its article claimed, at another version. The
    next run, holding the collection's lock, indexes it again rather than waiting out
    ``INDEX_CLAIM_TIMEOUT_SECONDS`` on the killed run's chunks."""
    _run("evaluate", "--limit-questions", "1")
    kb = KnowledgeBase.objects.get(slug=EVAL_SLUG)
    article = Article.objects.filter(knowledge_base=kb).first()
    assert article is not None
    Article.objects.filter(pk=article.pk).update(
        indexed_hash="a killed run's version", index_state=Article.IndexState.INDEXING, index_started_at=timezone.now()
    )
    _, stderr = _run("evaluate", "--limit-questions", "1")
    article.refresh_from_db()
    assert article.index_state == Article.IndexState.INDEXED
    assert article.indexed_hash == article_content_hash(article)
    assert "1 articles indexed" in stderr


def test_calibrate_stores_the_threshold_and_can_rerun_from_json(live_kb: Any, tmp_path: Path) -> None:
    target = tmp_path / "calibration.json"
    stdout, _ = _run(
        "calibrate", "--exclude-fraction", "0.34", "--target-answered", "0.75", "--fit-weights", "--store",
        "--json", str(target),
    )  # fmt: skip
    report = json.loads(target.read_text(encoding="utf-8"))
    calibration = report["calibration"]
    policy = AnswerPolicy.objects.get(pk=1)
    assert policy.confidence_threshold == calibration["threshold"]
    assert "squad_small.json" in policy.calibration_note and "75.0%" in policy.calibration_note
    assert "CONFIDENCE_WEIGHTS=" in stdout and "← chosen" in stdout
    assert len(calibration["weights"]) == len(FEATURES) + 1 and len(calibration["curve"]) >= 20
    chosen = next(p for p in calibration["curve"] if p["threshold"] == calibration["threshold"])
    assert chosen["in_scope_answered"] >= 0.75

    out = StringIO()
    call_command("calibrate", "--from-json", str(target), "--target-answered", "0.75", "--fit-weights", stdout=out)
    assert f"Chosen threshold {calibration['threshold']:.6f}" in out.getvalue()

    out = StringIO()
    call_command(
        "calibrate", "--from-json", str(target), str(target), "--target-answered", "0.75", "--folds", "2",
        stdout=out,
    )  # fmt: skip
    table = out.getvalue()
    assert "Cross-validation" in table and "mean ± sd" in table
    assert len(re.findall(r"^\s+[01]\s+\d+\s+\d+\s", table, re.M)) == 2  # one row per fold

    # --balance-pairs reaches the fit on both paths (the folds', then the shipped one): it
    # refuses records whose unanswerable questions carry a language pair.
    records = report["records"]
    stray = next(r for r in records if not r["in_scope"])
    stray["group"] = "ko-ko"
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps(report | {"records": records}), encoding="utf-8")
    for folds in (["--folds", "2"], []):
        with pytest.raises(CommandError, match=f"out-of-scope question {stray['id']}"):
            call_command(
                "calibrate", "--from-json", str(mixed), "--target-answered", "0.75", "--fit-weights", "--balance-pairs",
                *folds, stdout=StringIO(),
            )  # fmt: skip
    out = StringIO()
    call_command(
        "calibrate", "--from-json", str(target), "--target-answered", "0.75", "--fit-weights", "--balance-pairs",
        stdout=out,
    )  # fmt: skip
    assert "CONFIDENCE_WEIGHTS=" in out.getvalue() and "Chosen threshold" in out.getvalue()


def _try_lock(connection: Any, key: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key])
        return bool(cursor.fetchone()[0])


def test_a_second_evaluation_of_the_same_articles_waits_for_the_first() -> None:
    """Two runs over one collection would re-index it under each other's hit tests."""
    other = connections.create_connection("default")  # the session of an `evaluate` already running
    other.inc_thread_sharing()
    try:
        assert _try_lock(other, EVAL_SLUG)

        ending = threading.Event()

        def first_run_ends() -> None:
            ending.set()
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [EVAL_SLUG])

        ends = threading.Timer(0.5, first_run_ends)
        ends.start()
        messages: list[str] = []
        with collection_lock(FIXTURE, messages.append):
            assert ending.is_set()  # entered only once the first run let go
            assert not _try_lock(other, EVAL_SLUG)
        assert messages == [f"waiting for another evaluation of {FIXTURE.name} to finish\n"]
        ends.join()
        assert _try_lock(other, EVAL_SLUG)  # released on leaving
    finally:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")
        other.dec_thread_sharing()
        other.close()


def test_commands_refuse_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="not both"):
        call_command("calibrate", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="unknown retriever"):
        _run("evaluate", "--retrievers", "lexical,fuzzy")
    with pytest.raises(CommandError, match="does not exist"):
        call_command("evaluate", "--squad", str(tmp_path / "missing.json"), stdout=StringIO(), stderr=StringIO())


def _help_centre(tmp_path: Path) -> tuple[Path, Path]:
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "refunds.md").write_text(
        "---\ntitle: 환불 안내\nslug: refunds\nlanguage: ko\n---\n결제 후 14일 이내에는 전액 환불됩니다.\n\n"
        "환불은 마이페이지에서 신청합니다.\n",
        encoding="utf-8",
    )
    (articles / "shipping.md").write_text(
        "---\ntitle: Shipping times\nslug: shipping\nlanguage: en\n---\nStandard delivery takes 1–2 business days.\n\n"
        "Jeju takes 2–4 business days.\n",
        encoding="utf-8",
    )
    lines = [
        {"id": "a", "question": "환불은 며칠 안에 돼요?", "language": "ko", "answerable": True,
         "article": "refunds", "facts": ["14일"], "pair": "ko-ko"},
        {"id": "b", "question": "How long does delivery take?", "language": "en", "answerable": True,
         "article": "shipping", "facts": ["1–2 business days"], "pair": "en-en"},
        {"id": "c", "question": "제주 배송은 얼마나 걸려요?", "language": "ko", "answerable": True,
         "article": "shipping", "facts": ["2–4 business days"], "pair": "ko-en"},
        {"id": "d", "question": "Do you have a store in Busan?", "language": "en", "answerable": False,
         "article": None, "facts": [], "pair": "en"},
    ]  # fmt: skip
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    return articles, questions


def test_evaluate_a_customer_question_set_reports_figures_per_language_pair(live_kb: Any, tmp_path: Path) -> None:
    articles, questions = _help_centre(tmp_path)
    target = tmp_path / "hc.json"
    out = StringIO()
    call_command(
        "evaluate", "--questions", str(questions), "--articles", str(articles), "--json", str(target),
        stdout=out, stderr=StringIO(),
    )  # fmt: skip
    report = json.loads(target.read_text(encoding="utf-8"))
    assert report["counts"]["questions_in_scope"] == 3 and report["counts"]["questions_out_of_scope"] == 1
    assert set(report["by_group"]) == {"ko-ko", "en-en", "ko-en", "en"}
    assert report["by_group"]["en"]["answerable"] == 0 and report["by_group"]["ko-en"]["answerable"] == 1
    for figures in report["by_group"].values():
        total = figures["answered_correctly"] + figures["answered_wrongly"] + figures["escalated"]
        assert total == pytest.approx(1.0)
    assert report["retrieval"]["hybrid"]["questions"] == 3
    assert "By language pair" in out.getvalue()
    assert not Article.objects.filter(knowledge_base=live_kb).exists()  # an isolated collection


def test_a_bad_question_set_line_is_reported_with_its_number(live_kb: Any, tmp_path: Path) -> None:
    articles, questions = _help_centre(tmp_path)
    questions.write_text(
        questions.read_text(encoding="utf-8") + '{"question": "x", "answerable": true, "article": "nope", '
        '"facts": ["y"], "pair": "en-en"}\n',
        encoding="utf-8",
    )
    with pytest.raises(CommandError, match="line 5: article 'nope'"):
        call_command("evaluate", "--questions", str(questions), "--articles", str(articles), stdout=StringIO())


def _question_set(path: Path, *lines: dict[str, Any]) -> Path:
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    return path


PARCEL = {"id": "l1", "question": "택배   언제 와요?", "language": "ko", "answerable": True,
          "article": "shipping", "facts": ["1–2 business days"], "pair": "ko-en"}  # fmt: skip


def test_learn_from_adds_each_escalated_wording_and_never_one_being_evaluated(live_kb: Any, tmp_path: Path) -> None:
    """``--learn-from``: the learning loop on another set first (with a threshold no answer
    reaches, every answerable question of it is escalated and teaches its article); a line that
    is a question of the evaluated set, learned or already in the articles, is left out."""
    AnswerPolicy.objects.filter(pk=1).update(confidence_threshold=1.0)  # no answer reaches it
    articles, questions = _help_centre(tmp_path)
    shipping = articles / "shipping.md"
    shipping.write_text(
        shipping.read_text(encoding="utf-8").replace(
            "language: en\n", "language: en\naliases:\n  - 환불은 며칠 안에 돼요?\n"
        ),
        encoding="utf-8",
    )  # an evaluated question of set "questions" already among the article's lines
    (articles / "known-gaps.txt").write_text(
        "# gaps\nCan I pay with bitcoin?\n\nDo you have a store in Busan?\n", encoding="utf-8"
    )  # the second is an evaluated question
    unanswerable = {"language": "en", "answerable": False, "article": None, "facts": [], "pair": "en"}
    learn = _question_set(
        tmp_path / "learn.jsonl", PARCEL, {**PARCEL, "id": "l2", "question": "How long does delivery take?"},
        {**unanswerable, "id": "l3", "question": "Do you have a <b>store</b> in Seoul?"},
        {**unanswerable, "id": "l4", "question": "Do you have a store in Busan?"},  # evaluated: withheld
    )  # fmt: skip
    target = tmp_path / "hc.json"
    out = StringIO()
    call_command(
        "evaluate", "--questions", str(questions), "--articles", str(articles), "--learn-from", str(learn),
        "--json", str(target), stdout=out, stderr=StringIO(),
    )  # fmt: skip
    report = json.loads(target.read_text(encoding="utf-8"))
    assert report["indexing"]["articles_published"] == 2  # re-indexing after learning does not count them twice
    learned = report["configuration"]["learned_from"]
    assert learned == [{
        "file": "learn.jsonl", "questions": 4, "escalated_in_scope": 2, "unhelpful": 0, "lines_added": 1,
        "refused": 0,
        "withheld": 2, "lines": [["Shipping times", "택배 언제 와요?"]],
        "gaps_added": 1, "gaps": ["Do you have a store in Seoul?"],  # an escalated unanswerable one, markup removed
        "answers": [["Shipping times", "택배 언제 와요?", "Standard delivery takes 1–2 business days."]],
    }]  # fmt: skip
    kb = KnowledgeBase.objects.get(slug=f"eval-{file_sha256(articles)[:12]}")
    assert Article.objects.get(knowledge_base=kb, slug="shipping").aliases == "택배 언제 와요?"
    assert list(KnownGap.objects.filter(knowledge_base=kb).values_list("text", flat=True)) == [
        "Do you have a store in Seoul?",
        "Can I pay with bitcoin?",
    ]  # learned, and from the folder's file but for the evaluated question
    text = out.getvalue()
    assert (
        "learned from learn.jsonl: 1 also-asked-as lines added from 2 escalated answerable questions, 1 known gaps"
        in text
    )
    assert "1 also-asked-as lines left out: they are questions of this set" in text
    assert "1 known gaps from the folder's known-gaps.txt, 1 left out: questions of this set" in text
    with pytest.raises(CommandError, match="cannot be learned from and evaluated"):
        call_command(
            "evaluate", "--questions", str(learn), "--articles", str(articles), "--learn-from", str(learn),
            stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip
    with pytest.raises(CommandError, match="--learn-from goes with --questions"):
        _run("evaluate", "--learn-from", str(learn))


def test_learn_unhelpful_takes_back_answers_that_were_not_right(live_kb: Any, tmp_path: Path) -> None:
    """``--learn-unhelpful``: with a threshold every answer reaches, nothing is escalated, so only
    the answers that were not right come back (the customer said "No"): the unanswerable
    question answered anyway becomes a known gap; the right answer teaches nothing."""
    AnswerPolicy.objects.filter(pk=1).update(confidence_threshold=0.0)
    articles, questions = _help_centre(tmp_path)
    seoul = {"id": "u1", "question": "Do you have a store in Seoul?", "language": "en", "answerable": False,
             "article": None, "facts": [], "pair": "en"}  # fmt: skip
    right = {"id": "u2", "question": "How long does standard delivery take?", "language": "en", "answerable": True,
             "article": "shipping", "facts": ["1–2 business days"], "pair": "en-en"}  # fmt: skip
    learn = _question_set(tmp_path / "learn.jsonl", seoul, right)
    target = tmp_path / "hc.json"
    common = ["--questions", str(questions), "--articles", str(articles), "--learn-from", str(learn)]
    call_command("evaluate", *common, "--json", str(target), stdout=StringIO(), stderr=StringIO())
    learned = json.loads(target.read_text(encoding="utf-8"))["configuration"]["learned_from"][0]
    assert (learned["unhelpful"], learned["lines_added"], learned["gaps_added"]) == (0, 0, 0)  # all answered
    call_command("evaluate", *common, "--learn-unhelpful", "--json", str(target), stdout=StringIO(), stderr=StringIO())
    learned = json.loads(target.read_text(encoding="utf-8"))["configuration"]["learned_from"][0]
    assert learned["unhelpful"] == 1 and learned["gaps"] == ["Do you have a store in Seoul?"]
    assert learned["lines"] == []
    with pytest.raises(CommandError, match="--learn-unhelpful goes with --learn-from"):
        call_command("evaluate", "--questions", str(questions), "--articles", str(articles), "--learn-unhelpful")


def test_learn_wording_writes_the_lines_into_the_articles_front_matter(live_kb: Any, tmp_path: Path) -> None:
    import frontmatter

    AnswerPolicy.objects.filter(pk=1).update(confidence_threshold=1.0)  # no answer reaches it
    articles, _ = _help_centre(tmp_path)
    bitcoin = {"id": "l2", "question": "Can I pay with bitcoin?", "language": "en", "answerable": False,
               "article": None, "facts": [], "pair": "en"}  # fmt: skip
    learn = _question_set(tmp_path / "learn.jsonl", PARCEL, bitcoin)
    out = StringIO()
    call_command(
        "learn_wording", "--articles", str(articles), "--from", str(learn), "--write", stdout=out, stderr=StringIO()
    )
    assert "learn.jsonl: 1 lines from 1 escalated answerable questions, 1 known gaps" in out.getvalue()
    post = frontmatter.load(articles / "shipping.md")
    assert post.metadata["aliases"] == ["택배 언제 와요?"] and post.metadata["title"] == "Shipping times"
    # the sentence holding the question's fact, as the agent quoted it, is the line's answer
    assert post.metadata["alias_answers"] == {"택배 언제 와요?": "Standard delivery takes 1–2 business days."}
    assert post.content.startswith("Standard delivery takes 1–2 business days.")
    gaps = (articles / "known-gaps.txt").read_text(encoding="utf-8")
    assert gaps.startswith("# Questions support confirmed no article answers") and read_known_gaps(articles) == [
        "Can I pay with bitcoin?"
    ]
    out = StringIO()
    call_command("learn_wording", "--articles", str(articles), "--from", str(learn), stdout=out, stderr=StringIO())
    # its own line now answers the question (known wordings: cosine 1 with a gap to tell it from, the
    # floor reaching even this threshold), and the gap is already there
    assert "0 lines from 0 escalated answerable questions, 0 known gaps" in out.getvalue()
    assert "(1 refused" in out.getvalue()


def test_front_matter_gets_the_lines_in_its_list_or_a_new_one() -> None:
    from support.management.commands.learn_wording import front_matter_with_lines

    listed = '---\ntitle: A\naliases:\n  - "x"\nstatus: published\n---\nBody\n'
    assert front_matter_with_lines(listed, ['say "hi"']) == (
        '---\ntitle: A\naliases:\n  - "x"\n  - "say \\"hi\\""\nstatus: published\n---\nBody\n'
    )
    assert (
        front_matter_with_lines("---\ntitle: A\n---\nB\n", ["비번"]) == '---\ntitle: A\naliases:\n  - "비번"\n---\nB\n'
    )
    with pytest.raises(ValueError, match="no front matter"):
        front_matter_with_lines("Body only\n", ["x"])
    with pytest.raises(ValueError, match="not a list"):
        front_matter_with_lines("---\naliases: x\n---\nB\n", ["y"])


def test_front_matter_gets_the_answers_in_its_mapping_or_a_new_one() -> None:
    import yaml

    from support.management.commands.learn_wording import front_matter_with_answers

    text = front_matter_with_answers('---\ntitle: A\naliases:\n  - "x"\n---\nB\n', {"x": 'It is "1" day.'})
    assert text == '---\ntitle: A\naliases:\n  - "x"\nalias_answers:\n  "x": "It is \\"1\\" day."\n---\nB\n'
    text = front_matter_with_answers(text, {"비번": "로그인 화면에서 찾기를 누릅니다."})
    assert yaml.safe_load(text.split("---\n")[1])["alias_answers"] == {
        "x": 'It is "1" day.',
        "비번": "로그인 화면에서 찾기를 누릅니다.",
    }
    with pytest.raises(ValueError, match="no front matter"):
        front_matter_with_answers("Body only\n", {"x": "y"})
    with pytest.raises(ValueError, match="not a mapping"):
        front_matter_with_answers("---\nalias_answers: x\n---\nB\n", {"x": "y"})


def test_answer_lines_gives_a_line_taught_before_answers_the_one_its_agent_gave(live_kb: Any, tmp_path: Path) -> None:
    """``learn_wording --answer-lines``: a question answered (a threshold every answer reaches)
    teaches nothing by itself, but its line, already in the article without an answer, gets the
    sentence holding the question's fact."""
    import frontmatter

    AnswerPolicy.objects.filter(pk=1).update(confidence_threshold=0.0)
    articles, _ = _help_centre(tmp_path)
    shipping = articles / "shipping.md"
    shipping.write_text(
        shipping.read_text(encoding="utf-8").replace("language: en\n", "language: en\naliases:\n  - 택배 언제 와요?\n"),
        encoding="utf-8",
    )
    learn = _question_set(tmp_path / "learn.jsonl", PARCEL)
    command = ["learn_wording", "--articles", str(articles), "--from", str(learn), "--write"]
    out = StringIO()
    call_command(*command, stdout=out, stderr=StringIO())
    assert (
        "0 lines from 0 escalated answerable questions, 0 known gaps from escalated unanswerable ones, 0 answers"
        in (out.getvalue())
    )
    assert "alias_answers" not in frontmatter.load(shipping).metadata
    call_command(*command, "--answer-lines", stdout=StringIO(), stderr=StringIO())
    post = frontmatter.load(shipping)
    assert post.metadata["aliases"] == ["택배 언제 와요?"]
    assert post.metadata["alias_answers"] == {"택배 언제 와요?": "Standard delivery takes 1–2 business days."}
