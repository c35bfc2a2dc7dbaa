from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NotRequired, Protocol, TypedDict, Unpack

if TYPE_CHECKING:
    from knowledge.selectors import RetrievedChunk


@dataclass(frozen=True)
class SourceExcerpt:
    """A retrieved chunk as handed to an answerer; ``number`` is 1-based, as cited.

    ``sentences``/``sentence_vectors`` (an ``(n, d)`` array, may be empty) are the
    chunk's indexed sentences and their embeddings; ``language`` is the article's.
    """

    number: int
    title: str
    text: str
    language: str = ""
    sentences: tuple[str, ...] = ()
    sentence_vectors: Any = None
    article_id: int = 0  # 0: unknown (stored tickets, fine-tuning examples)
    # heading sentence -> its "also asked as" line in the other language ("": the title's, for
    # the opening section); RetrievedChunk.heading_translations
    heading_translations: Mapping[str, str] = field(default_factory=dict)


def source_excerpts(chunks: "Sequence[RetrievedChunk]") -> list[SourceExcerpt]:
    """Retrieved chunks as the numbered sources (1-based, in rank order) an answerer is handed."""
    return [
        SourceExcerpt(
            number=i, title=c.title, text=c.content, language=c.language, sentences=tuple(c.sentences),
            sentence_vectors=c.sentence_matrix, article_id=c.article_id,
            heading_translations=c.heading_translations,
        )
        for i, c in enumerate(chunks, 1)
    ]  # fmt: skip


@dataclass
class GeneratedAnswer:
    """An answerer's output.

    ``cited`` holds source numbers (1-based) the answer relies on; ``answerable`` is the
    answerer's verdict that the sources answer the question (an LLM's own judgement, or
    True for the extractive answerer, whose evidence is the retrieval confidence).
    ``span`` is the shortest part of ``text`` that answers (a substring of it; "" when the
    answerer could not mark one); ``span_start`` is its offset in ``text`` in characters
    when the answerer knows which occurrence it means (None: the first).
    """

    text: str
    cited: list[int]
    answerable: bool
    kind: str  # "llm" or "extractive"
    usage: dict[str, int] = field(default_factory=dict)
    span: str = ""
    span_start: int | None = None


def span_start_valid(generated: "GeneratedAnswer") -> int | None:
    """``generated.span_start`` when the span does stand there in ``generated.text``, else None."""
    at, span = generated.span_start, generated.span
    return at if span and at is not None and at >= 0 and generated.text[at : at + len(span)] == span else None


class AnswerRequest(TypedDict):
    """What :meth:`ChatProvider.answer` and ``answer_stream`` are asked (their keyword
    arguments): the ``question`` to answer, the numbered ``sources``, the BM25 idf of the
    question's terms (``term_weights``), the customer's ``language`` and, when retrieval
    had one, the question's embedding (``query_vector``) and, when the first source is in
    the other language, the mean sentence embedding of the customer's language in this
    knowledge base (``language_centroid``, :func:`knowledge.selectors.sentence_centroid`), and the
    sentence of the first source's article that support taught answers a question in these words
    (``known_answer``, :func:`support.services.known_answer`; "" for none)."""

    question: str
    sources: list[SourceExcerpt]
    term_weights: dict[str, float]
    language: str
    query_vector: NotRequired[list[float] | None]
    language_centroid: NotRequired[list[float] | None]
    known_answer: NotRequired[str]


class AnswerModelError(RuntimeError):
    """The answer model failed; ``code`` is one of timeout, connection, rate_limited,
    server_error, api_error, truncated, content_filter, invalid_output. The message is for
    logs, never for customers."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ChatProvider(Protocol):
    """Writes an answer from numbered sources.

    ``calls_model`` is True when answering costs a model call (time, money): such a
    provider is not asked when retrieval confidence is already below the threshold.
    """

    name: str
    calls_model: bool

    def answer(self, **request: Unpack[AnswerRequest]) -> GeneratedAnswer:
        """Answer ``question`` from ``sources`` only. Raises ``AnswerModelError``."""
        ...

    def answer_stream(self, **request: Unpack[AnswerRequest]) -> "AnswerStream":
        """``answer`` piece by piece: yields the answer text's new pieces (``str``) as they are
        produced, then exactly one ``GeneratedAnswer``, equal to what ``answer`` returns for
        the same reply. Raises ``AnswerModelError`` (possibly after some pieces). Closing the
        generator early releases whatever it holds (the model's HTTP stream)."""
        ...


# Pieces of the answer text, then the whole answer (see ``ChatProvider.answer_stream``).
AnswerStream = Generator[str | GeneratedAnswer, None, None]


def whole_answer_stream(generated: GeneratedAnswer) -> AnswerStream:
    """``answer_stream`` for an answerer that produces its answer at once: one piece, then the answer."""
    if generated.text:
        yield generated.text
    yield generated
