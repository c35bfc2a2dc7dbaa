"""``make demo``: the whole portal on one machine, with its sample knowledge base indexed.

Starts PostgreSQL + pgvector and Redis (see ``devtools.services``), migrates, creates an
admin user, imports ``samples/articles``, starts a Celery worker (with beat, for the
sweeper) and the web server, waits with a progress line until the worker has indexed
every article, then prints the URLs. Ctrl-C stops every process it started; the data in
``.data/`` is kept, so running it again reuses it.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from devtools.services import BASE_DIR, DATA_DIR, running

SAMPLES = BASE_DIR / "samples" / "articles"
PORT = int(os.environ.get("PORT", "8000"))
INDEX_TIMEOUT_SECONDS = 900


def _admin_password() -> str:
    path = DATA_DIR / "admin-password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


def _setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()


def _prepare(password: str) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    admin = user_model.objects.filter(username="admin").first()
    if admin is None:
        user_model.objects.create_superuser("admin", "admin@example.com", password)
    call_command("import_articles", str(SAMPLES))


def _index_progress() -> tuple[int, int, list[str]]:
    from knowledge.models import Article
    from knowledge.services import knowledge_base_get_live

    articles = Article.objects.filter(knowledge_base=knowledge_base_get_live())
    total = articles.count()
    done = articles.filter(index_state=Article.IndexState.INDEXED).count()
    failed = [f"{a.title}: {a.index_error}" for a in articles.filter(index_state=Article.IndexState.FAILED)]
    return done, total, failed


def _wait_for_indexing(children: list[subprocess.Popen[bytes]]) -> None:
    started = time.monotonic()
    while True:
        done, total, failed = _index_progress()
        bar = "#" * int(30 * done / max(total, 1))
        print(f"\r[demo] indexing sample articles [{bar:<30}] {done}/{total}  {time.monotonic() - started:5.0f}s",
              end="", flush=True)  # fmt: skip
        if done + len(failed) >= total:
            print()
            for line in failed:
                print(f"[demo] indexing failed: {line}")
            return
        for child in children:
            if child.poll() is not None:
                print()
                sys.exit(f"[demo] a process exited early (pid {child.pid}); see the output above")
        if time.monotonic() - started > INDEX_TIMEOUT_SECONDS:
            print("\n[demo] indexing is taking long; the portal is up and the worker keeps going")
            return
        time.sleep(1)


def main() -> int:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    children: list[subprocess.Popen[bytes]] = []
    with running("portal") as services:
        env = services.env()
        env.setdefault("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
        env.setdefault("EMAIL_FILE_PATH", str(DATA_DIR / "emails"))
        env.setdefault("SITE_URL", f"http://127.0.0.1:{PORT}")
        Path(env["EMAIL_FILE_PATH"]).mkdir(parents=True, exist_ok=True)
        password = _admin_password()
        _setup_django(env)
        _prepare(password)
        python = sys.executable
        commands = [
            [python, "-m", "celery", "-A", "portal", "worker", "-B", "-Q", "emails,indexing,celery", "-l", "warning",
             "--concurrency", "1", "-s", str(DATA_DIR / "celerybeat-schedule")],
            [python, "manage.py", "runserver", f"127.0.0.1:{PORT}", "--noreload"],
        ]  # fmt: skip
        for command in commands:
            children.append(subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=True))
        try:
            _wait_for_indexing(children)
            print(
                "\n"
                f"  Support portal (customers):  http://127.0.0.1:{PORT}/\n"
                f"  JSON API:                    POST http://127.0.0.1:{PORT}/api/v1/questions/\n"
                f"  Admin (staff, support):      http://127.0.0.1:{PORT}/admin/   login admin / {password}\n"
                f"  Emails are written to:       {env['EMAIL_FILE_PATH']}\n"
                "  Press Ctrl-C to stop everything.\n",
                flush=True,
            )
            while all(child.poll() is None for child in children):
                time.sleep(1)
            print("[demo] a process stopped; shutting down")
        except KeyboardInterrupt:
            print("\n[demo] stopping…")
        finally:
            for child in children:
                if child.poll() is None:
                    os.killpg(child.pid, signal.SIGTERM)
            for child in children:
                try:
                    child.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
