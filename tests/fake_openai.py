"""The ``fake_openai`` pytest fixture: :mod:`devtools.fake_openai`'s server for one test.

The server lives in ``devtools`` so ``manage.py benchmark_stream`` can run it too; its
helpers are re-exported here, where the tests have always imported them from.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.fake_openai import (  # noqa: F401 - re-exported for the tests
    CHAT,
    DEFAULT_CHAT_CONTENT,
    EMBEDDINGS,
    Behaviour,
    FakeOpenAI,
    RecordedRequest,
    StreamRecord,
    broken,
    chat_reply,
    error,
    fake_vector,
    running_fake_openai,
    sleep,
    trickle,
)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fresh fake OpenAI server on 127.0.0.1 for one test; stopped afterwards."""
    with running_fake_openai() as fake:
        yield fake
