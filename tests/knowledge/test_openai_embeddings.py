"""OpenAIEmbeddingProvider with the real ``openai`` client against the local fake server."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from pytest_django import Settings

from knowledge.embeddings import EmbeddingError, get_provider
from knowledge.embeddings import openai as provider_module
from knowledge.embeddings.openai import OpenAIEmbeddingProvider, batches
from knowledge.tokens import count_tokens
from tests.fake_openai import EMBEDDINGS, FakeOpenAI, error, fake_openai, fake_vector, sleep  # noqa: F401


@pytest.fixture
def fake(fake_openai: FakeOpenAI, settings: Settings) -> FakeOpenAI:  # noqa: F811
    fake_openai.apply_settings(settings, timeout=1.0, max_retries=0)
    return fake_openai


def test_name_and_known_dimensions_need_no_request(fake: FakeOpenAI) -> None:
    provider = get_provider("openai")
    assert isinstance(provider, OpenAIEmbeddingProvider)
    assert provider.name == "openai:text-embedding-3-small"
    assert provider.dimensions == 1536
    assert fake.requests == []


def test_vectors_are_unit_length_in_input_order(fake: FakeOpenAI) -> None:
    fake.embedding_scale = 3.5  # the server's vectors are not unit length
    texts = ["환불은 어떻게 하나요?", "Password reset", "배송 조회"]
    vectors = OpenAIEmbeddingProvider().embed_passages(texts)
    assert len(vectors) == 3
    for text, vector in zip(texts, vectors, strict=True):
        assert len(vector) == 1536
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-9)
        assert np.allclose(vector, fake_vector("text-embedding-3-small", text, 1536), atol=1e-6)
    [request] = fake.requests_to(EMBEDDINGS)
    assert request.body["input"] == texts
    assert request.body["model"] == "text-embedding-3-small"
    assert request.headers["authorization"] == "Bearer test-key"


def test_query_equals_passage_vector(fake: FakeOpenAI) -> None:
    provider = OpenAIEmbeddingProvider()
    assert provider.embed_query("배송 조회") == provider.embed_passages(["배송 조회"])[0]


def test_empty_list_makes_no_request_and_blank_text_still_gets_a_vector(fake: FakeOpenAI) -> None:
    provider = OpenAIEmbeddingProvider()
    assert provider.embed_passages([]) == []
    assert fake.requests == []
    [vector] = provider.embed_passages(["   "])
    assert np.linalg.norm(vector) == pytest.approx(1.0)
    assert fake.requests_to(EMBEDDINGS)[0].body["input"] == [" "]


def test_batches_split_at_the_input_limit(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provider_module, "MAX_INPUTS_PER_REQUEST", 3)
    texts = [f"passage number {i}" for i in range(7)]
    vectors = OpenAIEmbeddingProvider().embed_passages(texts)
    assert [r.body["input"] for r in fake.requests_to(EMBEDDINGS)] == [texts[0:3], texts[3:6], texts[6:7]]
    expected = [fake_vector("text-embedding-3-small", t, 1536) for t in texts]
    assert np.allclose(vectors, expected, atol=1e-6)


def test_batches_split_at_the_token_limit(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["alpha beta gamma delta"] * 5
    per_text = count_tokens(texts[0], "text-embedding-3-small")
    monkeypatch.setattr(provider_module, "MAX_TOKENS_PER_REQUEST", per_text * 2)
    OpenAIEmbeddingProvider().embed_passages(texts)
    assert [len(r.body["input"]) for r in fake.requests_to(EMBEDDINGS)] == [2, 2, 1]


def test_long_inputs_are_truncated_to_the_token_limit(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provider_module, "MAX_INPUT_TOKENS", 5)
    OpenAIEmbeddingProvider().embed_passages(["one two three four five six seven eight nine ten", "short"])
    sent = fake.requests_to(EMBEDDINGS)[0].body["input"]
    assert count_tokens(sent[0], "text-embedding-3-small") == 5
    assert sent[0].startswith("one two")
    assert sent[1] == "short"


def test_batches_helper() -> None:
    assert [list(r) for r in batches([1, 1, 1, 1, 1], max_inputs=2, max_tokens=100)] == [[0, 1], [2, 3], [4]]
    assert [list(r) for r in batches([5, 5, 20, 1], max_inputs=10, max_tokens=10)] == [[0, 1], [2], [3]]
    assert list(batches([], max_inputs=2, max_tokens=10)) == []


def test_unknown_model_dimensions_are_learned_from_a_response(
    fake: FakeOpenAI, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(provider_module, "_learned_dimensions", {})
    settings.OPENAI_EMBEDDING_MODEL = "bge-m3"
    fake.dimensions = 64
    provider = OpenAIEmbeddingProvider()
    assert provider.name == "openai:bge-m3"
    assert provider.dimensions == 64  # one probe request
    assert len(fake.requests_to(EMBEDDINGS)) == 1
    assert len(provider.embed_query("hello")) == 64
    assert provider.dimensions == 64  # learned, no further probe
    assert len(fake.requests_to(EMBEDDINGS)) == 2


@pytest.mark.parametrize(("status", "needle"), [(500, "HTTP 500"), (429, "HTTP 429"), (401, "HTTP 401")])
def test_http_errors_raise_embedding_error(fake: FakeOpenAI, status: int, needle: str) -> None:
    fake.script(error(status, "scripted failure"))
    with pytest.raises(EmbeddingError, match=needle):
        OpenAIEmbeddingProvider().embed_passages(["hello"])


def test_timeout_raises_embedding_error(fake: FakeOpenAI, settings: Settings) -> None:
    settings.OPENAI_TIMEOUT_SECONDS = 0.3
    fake.script(sleep(5.0))
    with pytest.raises(EmbeddingError, match="timed out"):
        OpenAIEmbeddingProvider().embed_query("hello")


def test_unreachable_server_raises_embedding_error(fake: FakeOpenAI, settings: Settings) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(EmbeddingError, match="unreachable"):
        OpenAIEmbeddingProvider().embed_query("hello")


def test_client_retries_a_server_error_before_giving_up(fake: FakeOpenAI, settings: Settings) -> None:
    settings.OPENAI_MAX_RETRIES = 1
    fake.script(error(500))
    [vector] = OpenAIEmbeddingProvider().embed_passages(["hello"])
    assert np.linalg.norm(vector) == pytest.approx(1.0)
    assert len(fake.requests_to(EMBEDDINGS)) == 2
    fake.script(error(500), error(500))
    with pytest.raises(EmbeddingError, match="HTTP 500"):
        OpenAIEmbeddingProvider().embed_passages(["hello"])
    assert len(fake.requests_to(EMBEDDINGS)) == 4
