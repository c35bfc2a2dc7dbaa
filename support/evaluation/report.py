"""Figures of an evaluation run, computed from its per-question records, and their table.

Definitions (``k`` ∈ {1, 5, 20}; shares are fractions in [0, 1]):

* **retrieval**, per retriever, over in-scope questions: recall@k = share with a hit in
  the top k; MRR@20 = mean 1/rank of the first hit (0 without one). A hit is a retrieved
  chunk of the question's own article whose content contains a gold answer text.
* **answers**, over in-scope questions answered at the threshold: share whose answer
  contains a gold answer; EM and character F1 against the golds (KorQuAD conventions).
* **escalation**: AUROC of confidence, in-scope (positive) vs out-of-scope (negative);
  at the threshold, the in-scope answered share, out-of-scope escalated share, and the
  share of answered questions whose top cited chunk is wrong.
* **latency**: p50/p95 per question and stage, in ms.
"""

import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from django.conf import settings

from support.evaluation.metrics import (
    ScoredQuestion,
    auroc,
    mean_reciprocal_rank,
    operating_point,
    percentiles,
    recall_at_k,
)
from support.evaluation.runner import TOP_K, EvaluationRun, QuestionRecord

RECALL_AT = (1, 5, 20)
LATENCY_STAGES = {
    "embed": "query embedding",
    "sql_retrievers": "retrieval SQL, all retrievers (one pass)",
    "answer_sql": "answering: retrieval SQL",
    "answer_assembly": "answering: answer assembly",
    "answer_service": "answering: whole service call",
    "total": "question total (all of the above)",
}


def git_commit() -> str | None:
    """``git rev-parse HEAD`` of the project, or None (no git, not a checkout)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def scored_questions(records: Sequence[QuestionRecord], weights: list[float] | None = None) -> list[ScoredQuestion]:
    """Records as calibration inputs; ``weights`` recomputes confidences (None: as asked)."""
    return [ScoredQuestion(r.in_scope, r.confidence_for(weights), r.has_answer, r.top_hit) for r in records]


def retrieval_figures(records: Sequence[QuestionRecord], retrievers: Sequence[str]) -> dict[str, dict[str, float]]:
    inside = [r for r in records if r.in_scope]
    figures: dict[str, dict[str, float]] = {}
    for mode in retrievers:
        ranks = [r.ranks.get(mode) for r in inside]
        figures[mode] = {f"recall@{k}": recall_at_k(ranks, k) for k in RECALL_AT}
        figures[mode][f"mrr@{TOP_K}"] = mean_reciprocal_rank(ranks, TOP_K)
        figures[mode]["questions"] = len(ranks)
    return figures


def answer_figures(records: Sequence[QuestionRecord], threshold: float, answerer: str) -> dict[str, Any]:
    answered = [r for r in records if r.in_scope and r.answered(threshold)]
    n = len(answered)
    kinds = Counter(r.answer_kind for r in records if r.answer_kind)
    return {
        "answerer": kinds.most_common(1)[0][0] if kinds else answerer,
        "answered_in_scope": n,
        "contains_gold": sum(r.contains_gold for r in answered) / n if n else 0.0,
        "exact_match": sum(r.exact_match for r in answered) / n if n else 0.0,
        "f1": sum(r.f1 for r in answered) / n if n else 0.0,
        "span_exact_match": sum(r.span_exact_match for r in answered) / n if n else 0.0,
        "span_f1": sum(r.span_f1 for r in answered) / n if n else 0.0,
        "spans_marked": sum(1 for r in answered if r.span),
        "spans_on_answer": sum(r.span_on_answer for r in answered),
    }


def escalation_figures(records: Sequence[QuestionRecord], threshold: float) -> dict[str, Any]:
    """The operating point at ``threshold``, and what became of the in-scope questions escalated
    there: how many would have been answered right had the gate let them through (the answerer's
    text, computed below the threshold too, holds a gold answer and its first source is a hit:
    what the gate's ordering costs), and the share whose own article was among the sources listed
    under "These articles might help" (``QuestionRecord.suggested``; None when none was
    escalated): an escalation that still points the customer at the answer may deflect the ticket."""
    items = scored_questions(records)
    point = operating_point(items, threshold)
    escalated = [r for r in records if r.in_scope and not r.answered(threshold)]
    return {
        "escalated_in_scope": len(escalated),
        "escalated_in_scope_right_first": sum(r.has_answer and r.top_hit and r.contains_gold for r in escalated),
        "escalated_in_scope_suggested": sum(r.suggested for r in escalated) / len(escalated) if escalated else None,
        "auroc": auroc([q.confidence for q in items if q.in_scope], [q.confidence for q in items if not q.in_scope]),
        "threshold": threshold,
        "in_scope_answered": point.in_scope_answered,
        "out_of_scope_escalated": point.out_of_scope_escalated,
        "wrong_citation_among_answered": point.wrong_citation,
        "answered": point.answered,
    }


def group_figures(records: Sequence[QuestionRecord], threshold: float) -> dict[str, dict[str, float | int]]:
    """Per language pair (``QuestionRecord.group``), what a customer experiences at ``threshold``.

    For in-scope (answerable) questions: ``answered_correctly`` = answered, the top cited
    chunk is a hit and the answer contains a gold answer/fact; ``answered_wrongly`` =
    answered otherwise; ``escalated`` = not answered. For out-of-scope groups only
    ``escalated`` and ``answered_wrongly`` (any answer is wrong) are meaningful.
    """
    figures: dict[str, dict[str, float | int]] = {}
    for group in sorted({r.group for r in records}):
        rows = [r for r in records if r.group == group]
        outcomes = Counter(r.outcome(threshold) for r in rows)
        n = len(rows)
        figures[group] = {
            "questions": n,
            "answerable": sum(r.in_scope for r in rows),
            "answered_correctly": outcomes["right"] / n if n else 0.0,
            "answered_wrongly": outcomes["wrong"] / n if n else 0.0,
            "escalated": outcomes["escalated"] / n if n else 0.0,
        }
    return figures


def latency_figures(records: Sequence[QuestionRecord]) -> dict[str, dict[str, float | None]]:
    stages = [s for s in LATENCY_STAGES if any(s in r.timings_ms for r in records)]
    return {s: percentiles([r.timings_ms[s] for r in records if s in r.timings_ms]) for s in stages}


def configuration(run: EvaluationRun) -> dict[str, Any]:
    """Everything that shapes the figures, so a run can be reproduced and compared."""
    options = run.options
    return {
        "squad_file": str(options.squad_path),
        "questions_file": str(options.questions_path) if options.questions_path else None,
        "knowledge_base": run.collection.knowledge_base.slug,
        "embedding_provider": run.embedder.name,
        "embedding_dimensions": run.embedder.dimensions,
        "chat_provider": run.chat.name,
        "chunk_tokens": settings.CHUNK_TOKENS,
        "chunk_overlap_tokens": settings.CHUNK_OVERLAP_TOKENS,
        "retrieval_fusion": settings.RETRIEVAL_FUSION,
        "retrieval_dense_weight": settings.RETRIEVAL_DENSE_WEIGHT,
        "retrieval_sentence_weight": settings.RETRIEVAL_SENTENCE_WEIGHT,
        "retrieval_cross_language_offset": settings.RETRIEVAL_CROSS_LANGUAGE_OFFSET,
        "extractive_answer_sentences": settings.EXTRACTIVE_ANSWER_SENTENCES,
        "extractive_excerpt": settings.EXTRACTIVE_EXCERPT,
        "retrieval_candidates": settings.RETRIEVAL_CANDIDATES,
        "retrieval_rrf_k": settings.RETRIEVAL_RRF_K,
        "lexical_scoring": settings.LEXICAL_SCORING,
        "bm25_k1": settings.BM25_K1,
        "bm25_b": settings.BM25_B,
        "hnsw_ef_search": settings.HNSW_EF_SEARCH,
        "answer_sources": settings.ANSWER_SOURCES,
        "threshold": run.threshold,
        "confidence_weights": list(settings.CONFIDENCE_WEIGHTS),
        "seed": options.seed,
        "exclude_fraction": options.exclude_fraction,
        "limit_questions": options.limit_questions,
        "retrievers": list(options.retrievers),
        "learned_from": run.collection.learned,
        "alias_lines_withheld": run.collection.withheld_lines,
        "known_gaps": run.collection.known_gaps,
        "known_gap_lines_withheld": run.collection.withheld_gaps,
        "known_gap_margin": settings.KNOWN_GAP_MARGIN,
        "known_gap_same": settings.KNOWN_GAP_SAME,
        "known_wording_similarity": settings.KNOWN_WORDING_SIMILARITY,
        "known_wording_margin": settings.KNOWN_WORDING_MARGIN,
        "top_k": TOP_K,
        "git_commit": git_commit(),
    }


def counts(run: EvaluationRun) -> dict[str, int]:
    collection = run.collection
    n_articles = len(set(collection.article_by_title.values()))
    in_scope = sum(1 for r in run.records if r.in_scope)
    return {
        "articles": n_articles,
        "articles_in_scope": n_articles - len(collection.excluded),
        "articles_out_of_scope": len(collection.excluded),
        "chunks": len(collection.chunks),
        "questions": len(run.records),
        "questions_in_scope": in_scope,
        "questions_out_of_scope": len(run.records) - in_scope,
        "questions_skipped": run.questions_total - len(run.records),
        "import_errors": len(collection.import_errors),
    }


def evaluation_report(run: EvaluationRun) -> dict[str, Any]:
    """The JSON-ready report: configuration, counts, figures, timings and per-question records."""
    records, threshold = run.records, run.threshold
    return {
        "configuration": configuration(run),
        "counts": counts(run),
        "indexing": run.collection.indexing,
        "retrieval": retrieval_figures(records, run.options.retrievers),
        "answers": answer_figures(records, threshold, run.chat.name),
        "escalation": escalation_figures(records, threshold),
        "by_group": group_figures(records, threshold),
        "latency_ms": latency_figures(records),
        "wall_time_s": run.seconds,
        "records": [asdict(r) for r in records],
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def format_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table for a terminal."""
    cfg, n = report["configuration"], report["counts"]
    lines = [
        f"Evaluation of {cfg.get('questions_file') or cfg['squad_file']} (collection {cfg['knowledge_base']})",
        f"articles {n['articles']} ({n['articles_in_scope']} in scope, {n['articles_out_of_scope']} out of scope) · "
        f"chunks {n['chunks']} · questions {n['questions']} ({n['questions_in_scope']} in scope, "
        f"{n['questions_out_of_scope']} out of scope, {n['questions_skipped']} skipped)",
        f"embedding {cfg['embedding_provider']} ({cfg['embedding_dimensions']} d) · answerer {cfg['chat_provider']} · "
        f"fusion {cfg['retrieval_fusion']} (dense weight {cfg['retrieval_dense_weight']}) · seed {cfg['seed']}",
        *(
            f"learned from {x['file']}: {x['lines_added']} also-asked-as lines added from "
            f"{x['escalated_in_scope']} escalated answerable questions, {x.get('gaps_added', 0)} known gaps "
            f"({x['refused']} refused, {x['withheld']} withheld)"
            for x in cfg.get("learned_from") or []
        ),
        *(
            [f"{cfg['alias_lines_withheld']} also-asked-as lines left out: they are questions of this set"]
            if cfg.get("alias_lines_withheld")
            else []
        ),
        *(
            [
                f"{cfg['known_gaps']} known gaps from the folder's known-gaps.txt"
                + (
                    f", {cfg['known_gap_lines_withheld']} left out: questions of this set"
                    if cfg.get("known_gap_lines_withheld")
                    else ""
                )
            ]
            if cfg.get("known_gaps") or cfg.get("known_gap_lines_withheld")
            else []
        ),
        "",
        f"Retrieval (in-scope questions; top {cfg['top_k']})",
        f"  {'retriever':<10}{'recall@1':>10}{'recall@5':>10}{'recall@20':>11}{'MRR@20':>9}",
    ]
    for mode, f in report["retrieval"].items():
        lines.append(
            f"  {mode:<10}{_pct(f['recall@1']):>10}{_pct(f['recall@5']):>10}{_pct(f['recall@20']):>11}"
            f"{f['mrr@20']:>9.3f}"
        )
    a, e = report["answers"], report["escalation"]
    auc = "—" if e["auroc"] is None else f"{e['auroc']:.3f}"
    lines += [
        "",
        f"Answers ({a['answerer']}; {a['answered_in_scope']} in-scope questions answered)",
        f"  contains a gold answer {_pct(a['contains_gold'])} · EM {_pct(a['exact_match'])} · F1 {_pct(a['f1'])}",
        f"  answer span (answer_span): EM {_pct(a.get('span_exact_match', 0.0))} · F1 {_pct(a.get('span_f1', 0.0))}"
        f" · marked on {a.get('spans_marked', 0)} answers, {a.get('spans_on_answer', 0)} of them on a gold answer",
        "",
        f"Escalation (threshold {e['threshold']:.4f})",
        f"  AUROC, in-scope vs out-of-scope confidence (Mann–Whitney): {auc}",
        f"  in-scope answered {_pct(e['in_scope_answered'])} · out-of-scope escalated "
        f"{_pct(e['out_of_scope_escalated'])} · wrong top citation among {e['answered']} answered "
        f"{_pct(e['wrong_citation_among_answered'])}",
        f"  in-scope escalated {e.get('escalated_in_scope', 0)}: {e.get('escalated_in_scope_right_first', 0)} of them "
        f"with the right source first and the answer in its excerpt; their article among the suggested ones "
        f'("These articles might help") {_pct(e.get("escalated_in_scope_suggested"))}',
        "",
        "By language pair (question-article; a single language: not answerable by the articles)",
        f"  {'pair':<8}{'questions':>10}{'answerable':>11}{'answered right':>16}{'answered wrong':>16}"
        f"{'escalated':>11}",
    ]
    for group, g in report.get("by_group", {}).items():
        lines.append(
            f"  {group:<8}{g['questions']:>10}{g['answerable']:>11}{_pct(g['answered_correctly']):>16}"
            f"{_pct(g['answered_wrongly']):>16}{_pct(g['escalated']):>11}"
        )
    lines += [
        "",
        f"Latency per question (ms){'p50':>25}{'p95':>10}",
    ]
    for stage, p in report["latency_ms"].items():
        lines.append(f"  {LATENCY_STAGES.get(stage, stage):<47}{_ms(p['p50']):>10}{_ms(p['p95']):>10}")
    idx, wall = report["indexing"], report["wall_time_s"]
    lines += [
        "",
        f"Wall time: indexing {wall['indexing']:.1f} s ({idx['articles_indexed']} articles indexed, "
        f"{idx['chunks_embedded']} chunks embedded, {idx['articles_reused']} reused) · "
        f"questions {wall['questions']:.1f} s",
    ]
    return "\n".join(lines)
