"""Gunicorn configuration for production: ``gunicorn -c portal/gunicorn.conf.py portal.wsgi``.

Every value comes from the environment (names below) with defaults for a 2-core machine.
A question is mostly CPU (query embedding, Kiwi, SQL in PostgreSQL) with some waiting on
I/O (PostgreSQL, Redis, the chat API), so one process per core with a few threads each keeps
the cores busy; gthread parks idle keep-alive connections instead of tying up a thread.
Database connections per process are bounded by ``DB_POOL_MAX_SIZE`` (portal/settings.py),
which should be at least ``GUNICORN_THREADS`` so a thread never waits on its own siblings.

Streamed answers (``Accept: text/event-stream``, issue 9) keep gthread. A stream holds its
thread until ``done`` (the chat model's whole reply, ~1.5 s at 50 tokens/s for a 66-token
reply), so threads per worker = concurrent streams per worker; the next one waits for a
thread before it even gets its sources. Measured with ``manage.py benchmark_stream --url``
against this file on 2 shared cores (README, "Streaming"): 1 worker × 4 threads, 4 streams:
first sources p50 142 ms; 8 streams: 1,733 ms (half of them queued behind a whole answer);
1 worker × 8 threads, 8 streams: 316 ms. Hence 8 threads by default: a stream mostly waits
on the model, and its database connection goes back to the pool during that wait
(``support.services``), so 8 threads fit in the default pool of 8. ASGI (uvicorn) was not
chosen: it is not installed here, the views and the ORM are synchronous, and Django's ASGI
handler consumes a synchronous streaming iterator whole (``sync_to_async(list)``) before
sending it, i.e. no streaming without rewriting the answer path as async code.

Sources: https://docs.gunicorn.org/en/stable/settings.html, .../design.html#how-many-workers
"""

import os
from typing import Any

bind = os.environ.get("GUNICORN_BIND", f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))  # one per core; each holds its own model (~600 MiB)
threads = int(os.environ.get("GUNICORN_THREADS", "8"))  # = concurrent streamed answers per worker (above)
# A question takes well under a second; 60 s leaves room for the chat model's timeout
# (OPENAI_TIMEOUT_SECONDS 20 s, retried) before the arbiter kills a stuck worker.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then so slow leaks cannot grow without bound; jitter avoids all
# workers restarting (and reloading the model) at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "500"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # "-" is stdout; "" turns it off
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The proxy in front sets X-Forwarded-*; trust it only from these addresses.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# gunicorn's runtime control socket (gunicornc) defaults to one path per user, which
# several instances on one machine would fight over; opt in with a path of your own.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
# No preload_app: the model must load after the fork, in each worker (see post_worker_init).
preload_app = False


def post_worker_init(worker: Any) -> None:
    """Load the embedding model and Kiwi before this worker accepts its first request."""
    from knowledge.warmup import models_warm

    models_warm()  # logs how long it took
