"""A local OpenAI-compatible HTTP server: for the tests (``tests/fake_openai.py`` wraps it in
the ``fake_openai`` fixture) and for ``manage.py benchmark_stream``.

It speaks just enough of the API for the real ``openai`` client to run unchanged:
``POST /v1/embeddings`` (deterministic vectors seeded by a hash of model and text;
``encoding_format`` float or base64; optional ``dimensions``) and
``POST /v1/chat/completions``, whole or, with ``"stream": true``, as ``chat.completion.chunk``
Server-Sent Events sent at ``tokens_per_second`` (a token here is ``chars_per_token``
characters of the reply's text; ``stream_options.include_usage`` adds the usage chunk).
Each test scripts what happens next::

    fake_openai.script(chat_reply({"answer": "…", "cited_sources": [1], "answerable": True}))
    fake_openai.script(error(429), error(500), sleep(5.0), chat_reply("not json", finish_reason="length"))

Every request pops the first scripted behaviour meant for its endpoint (``path=None``
matches any); with none left the default reply is given. Every request body is recorded
in ``requests`` so tests can assert on prompts. The server binds 127.0.0.1 on a free
port; ``base_url`` ends in ``/v1``. ``drop_after`` (a ``Behaviour``) closes a streamed
reply's connection after that many tokens, without a ``finish_reason``; ``streams``
records, per streamed reply, how many tokens went out and whether the client hung up.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

EMBEDDINGS = "/v1/embeddings"
CHAT = "/v1/chat/completions"
DEFAULT_CHAT_CONTENT = {"answer": "See source 1.", "cited_sources": [1], "answerable": True}
ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_api_key", 429: "rate_limit_exceeded", 500: "server_error"}


@dataclass(frozen=True)
class Behaviour:
    """What the server does for one request.

    ``status`` != 200 sends an OpenAI-style error body with ``message``. ``delay`` seconds
    pass before anything is sent (a delay longer than the client's timeout makes it give
    up). For chat, ``content`` (a dict is sent as JSON text) and ``finish_reason`` shape
    the reply; ``usage`` overrides the token counts. ``path`` limits it to one endpoint.
    ``broken_body`` is sent instead, as it is, with status 200 (:func:`broken`).
    ``trickle`` seconds pass between the pieces of a reply that is not streamed
    (:func:`trickle`): every wait stays short, the whole reply takes long.
    """

    status: int = 200
    message: str = ""
    delay: float = 0.0
    content: str | dict[str, Any] | None = None
    finish_reason: str = "stop"
    usage: dict[str, int] | None = None
    retry_after: float | None = 0.01  # seconds, sent as ``retry-after-ms`` on errors
    path: str | None = None
    drop_after: int | None = None  # streamed replies: hang up after this many tokens
    broken_body: str | None = None  # sent as an HTTP 200 "application/json" body (streams too), as is
    trickle: float = 0.0  # seconds between 8-byte pieces of a reply that is not streamed


@dataclass
class StreamRecord:
    """One streamed reply: ``tokens`` sent of ``total``; ``aborted`` when the client hung up
    first (a write failed); ``dropped`` when ``drop_after`` cut it."""

    total: int
    tokens: int = 0
    aborted: bool = False
    dropped: bool = False
    finished: threading.Event = field(default_factory=threading.Event)


def chat_reply(
    content: str | dict[str, Any],
    *,
    finish_reason: str = "stop",
    usage: dict[str, int] | None = None,
    drop_after: int | None = None,
) -> Behaviour:
    return Behaviour(content=content, finish_reason=finish_reason, usage=usage, path=CHAT, drop_after=drop_after)


def error(status: int, message: str = "", *, path: str | None = None, retry_after: float | None = 0.01) -> Behaviour:
    return Behaviour(status=status, message=message or f"scripted HTTP {status}", path=path, retry_after=retry_after)


def broken(body: str = "this is {not json", *, path: str | None = None) -> Behaviour:
    """HTTP 200 with ``body`` as it is, labelled JSON: a proxy's error page or a broken server."""
    return Behaviour(broken_body=body, path=path)


def trickle(seconds: float, *, path: str | None = None) -> Behaviour:
    """The default reply, sent 8 bytes at a time with ``seconds`` between the pieces."""
    return Behaviour(trickle=seconds, path=path)


def sleep(seconds: float, *, path: str | None = None) -> Behaviour:
    """Wait ``seconds`` and then give the default reply (if the client still listens)."""
    return Behaviour(delay=seconds, path=path)


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def fake_vector(model: str, text: str, dimensions: int) -> list[float]:
    """Deterministic unit-length vector for ``(model, text)``, same in every process."""
    seed = int.from_bytes(hashlib.sha256(f"{model}\x1f{text}".encode()).digest()[:8], "big")
    vector = np.random.default_rng(seed).standard_normal(dimensions)
    return (vector / np.linalg.norm(vector)).tolist()


@dataclass
class FakeOpenAI:
    """State of one fake server: scripted behaviours, recorded requests, embedding options.

    ``dimensions`` is the default vector length; ``embedding_scale`` multiplies vectors
    (1.0 = unit length like OpenAI; other values test client-side normalisation).
    Streamed replies go out at ``tokens_per_second`` tokens of ``chars_per_token``
    characters; ``default_content`` replaces the default chat reply.
    """

    base_url: str = ""
    dimensions: int = 1536
    embedding_scale: float = 1.0
    tokens_per_second: float = 50.0
    chars_per_token: int = 4
    default_content: str | dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_CHAT_CONTENT))
    requests: list[RecordedRequest] = field(default_factory=list)
    streams: list[StreamRecord] = field(default_factory=list)
    _script: list[Behaviour] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Recorded requests to ``path`` (``EMBEDDINGS`` or ``CHAT``), oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def apply_settings(self, settings: Any, *, timeout: float = 1.0, max_retries: int = 0) -> None:
        """Point the ``OPENAI_*`` settings (pytest-django's ``settings`` fixture) at this server."""
        settings.OPENAI_BASE_URL = self.base_url
        settings.OPENAI_API_KEY = "test-key"
        settings.OPENAI_TIMEOUT_SECONDS = timeout
        settings.OPENAI_MAX_RETRIES = max_retries

    def take(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> Behaviour:
        with self._lock:
            self.requests.append(RecordedRequest(path=path, headers=headers, body=body))
            for i, behaviour in enumerate(self._script):
                if behaviour.path in (None, path):
                    return self._script.pop(i)
        return Behaviour()

    def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        raw = body.get("input")
        texts = [raw] if isinstance(raw, str) else list(raw or [])
        model, dims = str(body.get("model", "")), int(body.get("dimensions") or self.dimensions)
        data = []
        for i, text in enumerate(texts):
            vector = np.asarray(fake_vector(model, str(text), dims)) * self.embedding_scale
            if body.get("encoding_format") == "base64":
                embedding: Any = base64.b64encode(vector.astype("<f4").tobytes()).decode()
            else:
                embedding = vector.tolist()
            data.append({"object": "embedding", "index": i, "embedding": embedding})
        tokens = sum(len(str(t).split()) for t in texts)
        return {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def reply_text(self, behaviour: Behaviour) -> str:
        content = self.default_content if behaviour.content is None else behaviour.content
        return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)

    def chat(self, body: dict[str, Any], behaviour: Behaviour) -> dict[str, Any]:
        text = self.reply_text(behaviour)
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
        usage = behaviour.usage or {"prompt_tokens": prompt_chars // 4 + 1, "completion_tokens": len(text) // 4 + 1}
        usage = {**usage, "total_tokens": usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)}
        return {
            "id": f"chatcmpl-fake{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "finish_reason": behaviour.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": usage,
        }

    def chat_chunks(self, body: dict[str, Any], behaviour: Behaviour, record: StreamRecord) -> Iterator[dict[str, Any]]:
        """The ``chat.completion.chunk`` objects of a streamed reply: one per token, then the
        finish, then (with ``stream_options.include_usage``) the usage; ``record.total`` tokens."""
        whole = self.chat(body, behaviour)
        text = whole["choices"][0]["message"]["content"]
        base = {k: whole[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
        tokens = [text[i : i + self.chars_per_token] for i in range(0, len(text), self.chars_per_token)]
        record.total = len(tokens)
        for i, token in enumerate(tokens):
            delta = {"role": "assistant", "content": token} if i == 0 else {"content": token}
            yield base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}]}
        finish = {"index": 0, "delta": {}, "finish_reason": behaviour.finish_reason, "logprobs": None}
        yield base | {"choices": [finish]}
        if (body.get("stream_options") or {}).get("include_usage"):
            yield base | {"choices": [], "usage": whole["usage"]}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            body = {}
        path = self.path.split("?", 1)[0]
        behaviour = fake.take(path, {k.lower(): v for k, v in self.headers.items()}, body)
        if behaviour.delay and fake._stopping.wait(behaviour.delay):
            return  # server shutting down
        try:
            if path not in (EMBEDDINGS, CHAT):
                self._error(404, f"unknown path {path}", None)
            elif behaviour.status != 200:
                self._error(behaviour.status, behaviour.message, behaviour.retry_after)
            elif behaviour.broken_body is not None:
                self._raw(200, behaviour.broken_body.encode())
            elif not isinstance(body.get("model"), str) or ("input" if path == EMBEDDINGS else "messages") not in body:
                self._error(400, "model and input/messages are required", None)
            elif path == CHAT and body.get("stream") is True:
                self._stream(body, behaviour)
            else:
                payload = fake.embeddings(body) if path == EMBEDDINGS else fake.chat(body, behaviour)
                self._raw(200, json.dumps(payload).encode(), pause=behaviour.trickle)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout) before the reply

    def _stream(self, body: dict[str, Any], behaviour: Behaviour) -> None:
        """Send the reply as SSE, one token every ``1 / tokens_per_second`` s (the first at once)."""
        fake = self.server.fake
        record = StreamRecord(total=0)
        with fake._lock:
            fake.streams.append(record)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")  # HTTP/1.0: the body ends when the connection does
        self.end_headers()
        interval = 1.0 / fake.tokens_per_second if fake.tokens_per_second > 0 else 0.0
        next_at = time.monotonic()
        try:
            for chunk in fake.chat_chunks(body, behaviour, record):
                is_token = bool(chunk["choices"]) and chunk["choices"][0]["finish_reason"] is None
                if is_token:
                    if behaviour.drop_after is not None and record.tokens >= behaviour.drop_after:
                        record.dropped = True
                        return  # hang up mid-reply: no finish_reason, no [DONE]
                    if fake._stopping.wait(max(0.0, next_at - time.monotonic())):
                        return
                    next_at += interval
                self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                self.wfile.flush()
                record.tokens += is_token
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            record.aborted = True  # the client hung up (closed its stream)
        finally:
            record.finished.set()

    def _error(self, status: int, message: str, retry_after: float | None) -> None:
        kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        headers = {"retry-after-ms": str(int(retry_after * 1000))} if retry_after is not None else {}
        self._json(status, {"error": {"message": message, "type": kind, "param": None, "code": kind}}, headers)

    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._raw(status, json.dumps(payload).encode(), headers)

    def _raw(self, status: int, data: bytes, headers: dict[str, str] | None = None, *, pause: float = 0.0) -> None:
        """Send ``data`` as JSON; with ``pause``, 8 bytes at a time, ``pause`` seconds apart."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not pause:
            self.wfile.write(data)
            return
        for start in range(0, len(data), 8):
            if self.server.fake._stopping.wait(pause):
                return
            self.wfile.write(data[start : start + 8])
            self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAI


@contextmanager
def running_fake_openai(*, port: int = 0, **options: Any) -> Iterator[FakeOpenAI]:
    """A fake OpenAI server on 127.0.0.1:``port`` (0: a free one) for the ``with`` block;
    ``options`` set ``FakeOpenAI`` fields (e.g. ``tokens_per_second``)."""
    server = _Server(("127.0.0.1", port), _Handler)
    fake = FakeOpenAI(base_url=f"http://127.0.0.1:{server.server_address[1]}/v1", **options)
    server.fake = fake
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake._stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
