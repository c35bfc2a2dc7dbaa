"""Offline answerer: the sentences of the retrieved chunks that best answer the question.

Each sentence of the top sources is scored by the idf-weighted share of the question's
terms it contains (the same BM25 idf the lexical retriever uses), with a small bonus for
coming from a higher-ranked source. The best sentence is returned, plus its neighbour
when the best one is short, cited by source number. No text is generated, so nothing
is invented; the page labels such answers as excerpts.
"""

import re

from knowledge.analysis import analyse
from knowledge.chunking import split_sentences
from support.answering.base import GeneratedAnswer, SourceExcerpt

RANK_BONUS = 0.05  # per rank step; keeps ties with the best-retrieved source
SHORT_SENTENCE_CHARS = 40


_MARKDOWN_INLINE = re.compile(r"\*\*|__|`|!?\[([^\]]*)\]\([^)]*\)")


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

    def answer(
        self, *, question: str, sources: list[SourceExcerpt], term_weights: dict[str, float], language: str
    ) -> GeneratedAnswer:
        terms = set(analyse(question))
        weights = {t: term_weights.get(t, 1.0) for t in terms}
        total = sum(weights.values()) or 1.0
        best: tuple[float, int, int] | None = None  # (score, source index, sentence index)
        per_source: list[list[str]] = []
        for s_index, source in enumerate(sources):
            sentences = _sentences(source.text)
            per_source.append(sentences)
            for i, sentence in enumerate(sentences):
                found = set(analyse(sentence)) & terms
                score = sum(weights[t] for t in found) / total - RANK_BONUS * s_index
                if best is None or score > best[0]:
                    best = (score, s_index, i)
        if best is None:
            return GeneratedAnswer(text="", cited=[], answerable=False, kind="extractive")
        _, s_index, i = best
        sentences = per_source[s_index]
        picked = [sentences[i]]
        if len(sentences[i]) < SHORT_SENTENCE_CHARS and i + 1 < len(sentences):
            picked.append(sentences[i + 1])
        return GeneratedAnswer(
            text=" ".join(picked), cited=[sources[s_index].number], answerable=True, kind="extractive"
        )
