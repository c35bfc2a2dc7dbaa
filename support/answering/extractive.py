"""Offline answerer: the sentences of the retrieved chunks that best answer the question.

Each sentence of the top sources is scored by the idf-weighted share of the question's
terms it contains (the same BM25 idf the lexical retriever uses), minus ``RANK_BONUS``
per rank step of its source. The best sentence is returned with its better-scoring
neighbour (a question's answer often sits in the sentence before or after the one that
repeats its words), cited by source number. No text is generated, so nothing is
invented; the page labels such answers as excerpts. Choices measured on KorQuAD with
``manage.py evaluate`` (README): the pair raised "answer contains the gold text" from
84 % (one sentence) to 91 %; a 0.1 rank penalty cited the right chunk more often than
0.05 or 0.3.
"""

import functools
import re

from knowledge.analysis import analyse
from knowledge.chunking import split_sentences
from support.answering.base import GeneratedAnswer, SourceExcerpt

RANK_BONUS = 0.1  # per rank step; keeps near-ties with the best-retrieved source


_MARKDOWN_INLINE = re.compile(r"\*\*|__|`|!?\[([^\]]*)\]\([^)]*\)")


@functools.lru_cache(maxsize=50_000)
def _terms(sentence: str) -> frozenset[str]:
    # Popular chunks come back question after question; analyse each sentence once.
    return frozenset(analyse(sentence))


def _sentences(text: str) -> list[str]:
    """Plain-text sentences of a Markdown chunk (emphasis, code ticks and link targets dropped)."""
    text = _MARKDOWN_INLINE.sub(lambda m: m.group(1) or "", text)
    lines = [line.strip(" #*->|") for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line:
            out.extend(split_sentences(line))
    return out


class ExtractiveAnswerer:
    name = "extractive"
    calls_model = False  # a local excerpt: cheap, so computed below the threshold too (staff draft, calibration)

    def answer(
        self, *, question: str, sources: list[SourceExcerpt], term_weights: dict[str, float], language: str
    ) -> GeneratedAnswer:
        terms = set(analyse(question, query=True))
        weights = {t: term_weights.get(t, 1.0) for t in terms}
        total = sum(weights.values()) or 1.0
        best: tuple[float, int, int] | None = None  # (score, source index, sentence index)
        scored: list[tuple[list[str], list[float]]] = []
        for s_index, source in enumerate(sources):
            sentences = _sentences(source.text)
            scores = [sum(weights[t] for t in _terms(s) & terms) / total for s in sentences]
            scored.append((sentences, scores))
            for i, score in enumerate(scores):
                if best is None or score - RANK_BONUS * s_index > best[0]:
                    best = (score - RANK_BONUS * s_index, s_index, i)
        if best is None:
            return GeneratedAnswer(text="", cited=[], answerable=False, kind="extractive")
        _, s_index, i = best
        sentences, scores = scored[s_index]
        before = scores[i - 1] if i > 0 else -1.0
        after = scores[i + 1] if i + 1 < len(sentences) else -1.0
        if after >= 0 and after >= before:
            picked = sentences[i : i + 2]
        elif before >= 0:
            picked = sentences[i - 1 : i + 1]
        else:
            picked = [sentences[i]]
        return GeneratedAnswer(
            text=" ".join(picked), cited=[sources[s_index].number], answerable=True, kind="extractive"
        )
