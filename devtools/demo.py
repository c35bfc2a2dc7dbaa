"""``make demo``: the whole portal on one machine, with its sample knowledge base indexed.

Starts PostgreSQL + pgvector and Redis (see ``devtools.services``), migrates, creates an
admin user, imports ``samples/articles``, starts the Celery workers (emails with beat, for
the sweepers; indexing) and the web server, waits with a progress line until the worker has indexed
every article, then prints the URLs. Ctrl-C, SIGTERM and SIGHUP stop every process it
started (workers, web server, and PostgreSQL/redis-server if it started them); the
data in ``.data/`` is kept, so running it again reuses it.

``.data/demo.pids`` lists this run's processes while it runs. A run that was killed with
SIGKILL cannot clean up; the next run finds the processes it left (or the port taken),
says which, and how to stop them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from devtools.services import (
    BASE_DIR,
    DATA_DIR,
    close_database,
    kept_secret,
    running,
    setup_django,
    stop_groups,
    stopping_on_signals,
    wait_until_answering,
)

SAMPLES = BASE_DIR / "samples" / "articles"
PORT = int(os.environ.get("PORT", "8000"))
INDEX_TIMEOUT_SECONDS = 900
PIDFILE = DATA_DIR / "demo.pids"
STOP_TIMEOUT_SECONDS = 20  # per process group, after SIGTERM, before SIGKILL


def worker_commands(python: str) -> list[list[str]]:
    """The demo's Celery workers, one process each: the ``emails`` queue (with beat, for the
    sweepers), and ``indexing`` with the default queue (staff drafts, content-gap reports).
    With one worker on every queue, a 200,000-character article (about 400 s to embed here)
    held ticket acknowledgements back for as long (thirteenth session); the queues exist so a
    large import never delays one. Long articles (``INDEX_LARGE_ARTICLE_CHARS``) have a worker
    of their own, so a short article saved meanwhile is indexed in seconds (fifteenth session)."""
    worker = [python, "-m", "celery", "-A", "portal", "worker", "-l", "warning", "--concurrency", "1"]
    return [
        [*worker, "-n", "emails@%h", "-Q", "emails", "-B", "-s", str(DATA_DIR / "celerybeat-schedule")],
        [*worker, "-n", "indexing@%h", "-Q", "indexing,celery"],
        [*worker, "-n", "indexing-large@%h", "-Q", "indexing-large"],  # long articles: never ahead of short ones
    ]


def web_command(python: str) -> list[str]:
    return [python, "-m", "devtools.runserver", f"127.0.0.1:{PORT}", "--noreload"]  # runserver, larger backlog


def _leftovers() -> list[str]:
    """Processes of an earlier run still alive (from ``PIDFILE``), as "pid (command)" lines."""
    import psutil

    if not PIDFILE.exists():
        return []
    found = []
    for pid in (int(x) for x in PIDFILE.read_text().split()):
        try:
            proc = psutil.Process(pid)
            cmdline = " ".join(proc.cmdline())
            ours = any(mark in cmdline for mark in ("devtools.", "celery", "manage.py"))  # not a reused pid
            if ours and proc.status() != psutil.STATUS_ZOMBIE and proc.pid != os.getpid():
                found.append(f"{pid} ({' '.join(proc.cmdline()[1:6])})")
        except psutil.Error:
            continue
    return found


def _port_free(port: int) -> bool:
    """Nothing listens on ``port``. SO_REUSEADDR as the web server binds: a port left in
    TIME_WAIT by the previous run is free to it (a restart within a minute had been refused)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def check_leftovers(command: str = "demo") -> None:
    """Exit with a clear message when an earlier run's processes or the port are still taken;
    ``command`` is the make target the messages name (``make serve`` shares this check)."""
    left = _leftovers()
    if left:
        pids = " ".join(line.split()[0] for line in left)
        sys.exit(
            f"[{command}] an earlier `make demo` or `make serve` is still running or left processes behind:\n  "
            + "\n  ".join(left)
            + f"\nStop it with Ctrl-C in its terminal, or: kill {pids}   (then run `make {command}` again)"
        )
    PIDFILE.unlink(missing_ok=True)
    if not _port_free(PORT):
        sys.exit(
            f"[{command}] port {PORT} is in use by another program. Find it with `ss -ltnp 'sport = :{PORT}'` "
            f"and stop it, or pick another port: PORT={PORT + 1} make {command}"
        )


def _record_pids(children: list[subprocess.Popen[bytes]]) -> None:
    PIDFILE.write_text(" ".join(str(pid) for pid in [os.getpid(), *(c.pid for c in children)]))


def admin_password() -> str:
    """The demo's admin password, made on first use and kept in ``.data/admin-password``."""
    return kept_secret("admin-password", 12)


def prepare(password: str) -> None:
    """Migrate, make the ``admin`` superuser (both staff roles) and import the sample articles
    (unchanged ones are left as they are); ``make serve`` runs it too, so it never starts on an
    empty knowledge base (the production-mode pass had found no articles and no admin there)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from support.roles import CONTENT_EDITORS, SUPPORT_AGENTS

    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    admin = user_model.objects.filter(username="admin").first()
    if admin is None:
        admin = user_model.objects.create_superuser("admin", "admin@example.com", password)
    admin.groups.add(*Group.objects.filter(name__in=[SUPPORT_AGENTS, CONTENT_EDITORS]))  # both roles (migration 0005)
    call_command("import_articles", str(SAMPLES))


def _index_progress() -> tuple[int, int, list[str]]:
    from knowledge.models import Article
    from knowledge.services import knowledge_base_get_live

    articles = Article.objects.filter(knowledge_base=knowledge_base_get_live())
    total = articles.count()
    done = articles.filter(index_state=Article.IndexState.INDEXED).count()
    failed = [f"{a.title}: {a.index_error}" for a in articles.filter(index_state=Article.IndexState.FAILED)]
    return done, total, failed


def wait_for_indexing(children: list[subprocess.Popen[bytes]], label: str = "demo") -> None:
    """A progress bar until every sample article is indexed or failed (or ``INDEX_TIMEOUT_SECONDS``)."""
    started = time.monotonic()
    while True:
        done, total, failed = _index_progress()
        bar = "#" * int(30 * done / max(total, 1))
        print(f"\r[{label}] indexing sample articles [{bar:<30}] {done}/{total}  {time.monotonic() - started:5.0f}s",
              end="", flush=True)  # fmt: skip
        if done + len(failed) >= total:
            print()
            for line in failed:
                print(f"[{label}] indexing failed: {line}")
            return
        for child in children:
            if child.poll() is not None:
                print()
                sys.exit(f"[{label}] a process exited early (pid {child.pid}); see the output above")
        if time.monotonic() - started > INDEX_TIMEOUT_SECONDS:
            print(f"\n[{label}] indexing is taking long; the portal is up and the worker keeps going")
            return
        time.sleep(1)


def main() -> int:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    check_leftovers()
    children: list[subprocess.Popen[bytes]] = []
    with stopping_on_signals(), running("portal") as services:
        try:
            env = services.env()
            env.setdefault("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
            env.setdefault("EMAIL_FILE_PATH", str(DATA_DIR / "emails"))
            env.setdefault("SITE_URL", f"http://127.0.0.1:{PORT}")
            Path(env["EMAIL_FILE_PATH"]).mkdir(parents=True, exist_ok=True)
            password = admin_password()
            setup_django(env)
            prepare(password)
            python = sys.executable
            for command in (*worker_commands(python), web_command(python)):
                children.append(subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=True))
                _record_pids(children)
            wait_for_indexing(children)
            try:
                wait_until_answering(f"http://127.0.0.1:{PORT}/", children[-1], timeout=60)
            except RuntimeError as exc:
                sys.exit(f"[demo] the web server did not start on port {PORT} ({exc}); see the output above")
            print(
                "\n"
                f"  Support portal (customers):  http://127.0.0.1:{PORT}/\n"
                f"  JSON API:                    POST http://127.0.0.1:{PORT}/api/v1/questions/\n"
                f"  Admin (staff, support):      http://127.0.0.1:{PORT}/admin/   login admin / {password}\n"
                f"  API docs:                    http://127.0.0.1:{PORT}/api/docs/   (schema: /api/schema/)\n"
                f"  Widget demo:                 http://127.0.0.1:{PORT}/widget/demo/\n"
                f"  Emails are written to:       {env['EMAIL_FILE_PATH']}\n"
                "  Press Ctrl-C to stop everything.\n",
                flush=True,
            )
            while all(child.poll() is None for child in children):
                time.sleep(1)
            print("[demo] a process stopped; shutting down", flush=True)
        except KeyboardInterrupt as exc:
            print(f"\n[demo] stopping ({exc})…", flush=True)
        finally:
            stop_groups(children, STOP_TIMEOUT_SECONDS, label="demo")
            close_database()
            PIDFILE.unlink(missing_ok=True)
    print("[demo] stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
