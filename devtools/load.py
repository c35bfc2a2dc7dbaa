"""Load test of the question API: N concurrent clients POST questions for T seconds.

    python -m devtools.load --url http://127.0.0.1:8120 --clients 32 --duration 60
        against a running server, e.g. ``ASK_RATE_LIMIT=100000/m DJANGO_NUM_PROXIES=1 PORT=8120 make demo``
    python -m devtools.load --serve --clients 50 --duration 300        (``make load``)
        starts the embedded services, indexes the sample articles, runs gunicorn in
        production mode (``portal/gunicorn.conf.py``) on a free port, and loads it

Each client is a thread with its own keep-alive session and its own ``X-Forwarded-For``
address (198.18.0.0/15, the benchmarking range of RFC 2544), so a server with
``DJANGO_NUM_PROXIES=1`` sees distinct customers; the server should also run with a high
``ASK_RATE_LIMIT`` so the test measures capacity, not throttling. Prints requests/s,
p50/p95/max latency and a status histogram; exits 1 on any 5xx or connection error.
Loopback only, and bounded: at most 200 clients for at most 15 minutes.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_CLIENTS = 200
MAX_SECONDS = 900
REQUEST_TIMEOUT_SECONDS = 60
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
QUESTIONS = [
    "환불은 어떻게 신청하나요?", "배송은 며칠 걸리나요?", "비밀번호를 잊어버렸어요", "요금제 가격이 궁금합니다",
    "How do I get a refund?", "How long does shipping take?", "I forgot my password", "How much does the plan cost?",
    "계정을 삭제하려면 어떻게 해야 하나요?", "What are your support hours?", "교환 신청은 어디서 하나요?",
    "주문을 취소하고 싶어요", "Can I change my delivery address?", "포인트는 언제 적립되나요?",
]  # fmt: skip


@dataclass
class LoadReport:
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    created_ids: list[int] = field(default_factory=list)  # ids of questions answered 201
    error_examples: dict[str, str] = field(default_factory=dict)  # status -> one message
    retry_after: collections.Counter[str] = field(default_factory=collections.Counter)  # on 429/503 responses

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def failures(self) -> int:
        """Responses in the 5xx range plus requests that got no response at all."""
        return sum(n for status, n in self.statuses.items() if status.startswith(("5", "error")))

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the latencies in ms (``q`` in 0..100)."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]

    def summary(self) -> str:
        histogram = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items()))
        return (
            f"{self.requests} requests in {self.seconds:.1f}s = {self.requests / self.seconds:.1f} requests/s\n"
            f"latency ms: p50 {self.percentile(50):.0f}, p95 {self.percentile(95):.0f}, "
            f"max {max(self.latencies_ms, default=float('nan')):.0f}\n"
            f"statuses: {histogram}\n"
            f"5xx or no response: {self.failures}"
            + "".join(f"\n  {status}, e.g.: {message}" for status, message in self.error_examples.items())
        )


def load_run(
    *, url: str, clients: int, seconds: float, questions: list[str] | None = None, keepalive: bool = False
) -> LoadReport:
    """POST questions to ``{url}/api/v1/questions/`` from ``clients`` threads for ``seconds``.

    Without ``keepalive`` every request opens a new TCP connection, like many distinct
    customers; that is the harder case for runserver, which runs a thread per connection.

    No request starts after the deadline; one in flight may end up to
    ``REQUEST_TIMEOUT_SECONDS`` later. Raises ValueError for a non-loopback URL or limits
    out of bounds.
    """
    import requests

    if urlsplit(url).hostname not in LOOPBACK:
        raise ValueError(f"load tests run against loopback only, not {url}")
    if not (1 <= clients <= MAX_CLIENTS and 0 < seconds <= MAX_SECONDS):
        raise ValueError(f"1..{MAX_CLIENTS} clients for at most {MAX_SECONDS}s")
    questions = questions or QUESTIONS
    endpoint = url.rstrip("/") + "/api/v1/questions/"
    report = LoadReport(seconds=seconds)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = 0.0

    def client(number: int) -> None:
        session = requests.Session()
        session.headers["X-Forwarded-For"] = f"198.18.{number // 256}.{number % 256}"
        start.wait()
        i = number
        while time.monotonic() < deadline:
            began = time.perf_counter()
            try:
                response = session.post(
                    endpoint, json={"question": questions[i % len(questions)]}, timeout=REQUEST_TIMEOUT_SECONDS
                )
                if not keepalive:
                    session.close()  # the next request opens a new connection
                status, created = str(response.status_code), response.status_code == 201
                retry_after = response.headers.get("Retry-After", "missing") if status in ("429", "503") else None
            except requests.RequestException as exc:
                status, created, retry_after = f"error {type(exc).__name__}", False, None
                report.error_examples.setdefault(status, str(exc)[:300])
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                report.statuses[status] += 1
                if retry_after is not None:
                    report.retry_after[retry_after] += 1
                report.latencies_ms.append(elapsed)
                if created:
                    report.created_ids.append(int(response.json()["id"]))
            i += clients

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    deadline = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    report.seconds = time.monotonic() - began
    return report


def _index_samples() -> list[str]:
    """Migrate, import and index the sample articles in this process; return their titles."""
    from django.core.management import call_command

    from devtools.demo import SAMPLES
    from knowledge.models import Article
    from knowledge.services import article_index, knowledge_base_get_live

    call_command("migrate", verbosity=0)
    call_command("import_articles", str(SAMPLES), verbosity=0)
    articles = Article.objects.filter(knowledge_base=knowledge_base_get_live())
    for article_id in articles.exclude(index_state=Article.IndexState.INDEXED).values_list("id", flat=True):
        article_index(article_id=article_id)
    return list(articles.values_list("title", flat=True))


def serve_and_load(*, clients: int, seconds: float, keepalive: bool = False) -> LoadReport:
    """``--serve``: embedded services, sample articles indexed, gunicorn in production mode."""
    from devtools.serve import gunicorn_running, production_env
    from devtools.services import DATA_DIR, close_database, free_port, running, setup_django, stopping_on_signals

    port = int(os.environ.get("PORT") or free_port())
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    with stopping_on_signals(), running("portal") as services:
        try:
            env = production_env(services.env(), port)
            env.setdefault("ASK_RATE_LIMIT", "100000/m")  # measure capacity, not throttling
            env.setdefault("DJANGO_NUM_PROXIES", "1")  # each client's X-Forwarded-For is its address
            env.setdefault("GUNICORN_ACCESS_LOG", "")
            setup_django(env)
            titles = _index_samples()
            log = DATA_DIR / "load-gunicorn.log"
            print(f"[load] gunicorn on 127.0.0.1:{port} (log: {log}); {clients} clients for {seconds:.0f}s", flush=True)
            with gunicorn_running(env, port, log=log):
                return load_run(url=f"http://127.0.0.1:{port}", clients=clients, seconds=seconds,
                                questions=titles + QUESTIONS, keepalive=keepalive)  # fmt: skip
        finally:
            close_database()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running server on loopback, e.g. http://127.0.0.1:8120")
    target.add_argument("--serve", action="store_true", help="start gunicorn on the embedded services first")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60, help="seconds")
    parser.add_argument("--keepalive", action="store_true", help="reuse each client's connection")
    args = parser.parse_args(argv)
    try:
        if args.serve:
            report = serve_and_load(clients=args.clients, seconds=args.duration, keepalive=args.keepalive)
        else:
            report = load_run(url=args.url, clients=args.clients, seconds=args.duration, keepalive=args.keepalive)
    except ValueError as exc:
        parser.error(str(exc))
    print(report.summary(), flush=True)
    if report.statuses.get("429"):
        print("note: 429s mean the server throttles; start it with ASK_RATE_LIMIT=100000/m DJANGO_NUM_PROXIES=1")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
