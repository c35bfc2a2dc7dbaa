"""``make serve``: the portal in production mode on this machine — gunicorn with
``portal/gunicorn.conf.py`` and the demo's Celery workers (``devtools.demo.worker_commands``:
emails with beat, indexing, indexing-large), against the embedded services
(``devtools.services``), with the demo's data: the ``admin`` user and the sample articles
(``devtools.demo.prepare``; the admin password is kept in ``.data/admin-password``).

It runs with ``DJANGO_DEBUG=0`` and a secret key kept in ``.data/secret-key``; SITE_URL is
plain http on loopback, so HTTPS redirects and secure cookies stay off. Static files are
collected into ``STATIC_ROOT`` (``collectstatic``) and served by WhiteNoise, as in
production. Ctrl-C, SIGTERM and SIGHUP stop everything it started.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
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

READY_TIMEOUT_SECONDS = 180  # workers load the embedding model and Kiwi before accepting


def _secret_key() -> str:
    return kept_secret("secret-key", 50)


def production_env(base: dict[str, str], port: int) -> dict[str, str]:
    """``base`` plus what production mode needs on loopback (see module docstring)."""
    return {
        **base,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": base.get("DJANGO_SECRET_KEY") or _secret_key(),
        "DJANGO_ALLOWED_HOSTS": base.get("DJANGO_ALLOWED_HOSTS") or "127.0.0.1,localhost",
        "SITE_URL": base.get("SITE_URL") or f"http://127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
    }


@contextlib.contextmanager
def gunicorn_running(env: dict[str, str], port: int, log: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn with the repository's config on ``127.0.0.1:port``, answering when entered."""
    out = log.open("ab") if log else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(BASE_DIR / "portal" / "gunicorn.conf.py"), "portal.wsgi"],
        cwd=BASE_DIR, env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}, stdout=out, stderr=out,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/", proc, READY_TIMEOUT_SECONDS)
        yield proc
    finally:
        stop_groups([proc], label="serve")
        if out:
            out.close()


def main() -> int:
    from devtools.demo import admin_password, check_leftovers, prepare, wait_for_indexing, worker_commands

    port = int(os.environ.get("PORT", "8000"))
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    check_leftovers("serve")
    workers: list[subprocess.Popen[bytes]] = []
    with stopping_on_signals(), running("portal") as services:
        try:
            env = production_env(services.env(), port)
            env.setdefault("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
            env.setdefault("EMAIL_FILE_PATH", str(DATA_DIR / "emails"))
            setup_django(env)
            from django.core.management import call_command

            # As a release would: WhiteNoise warns "No directory at .data/static/" without it.
            call_command("collectstatic", interactive=False, verbosity=0)
            password = admin_password()
            prepare(password)
            for command in worker_commands(sys.executable):
                workers.append(subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=True))
            wait_for_indexing(workers, label="serve")
            with gunicorn_running(env, port) as web:
                print(
                    f"\n  Production mode (gunicorn + Celery): http://127.0.0.1:{port}/   "
                    f"admin: http://127.0.0.1:{port}/admin/ login admin / {password}   Ctrl-C stops.\n",
                    flush=True,
                )
                while web.poll() is None and all(w.poll() is None for w in workers):
                    time.sleep(1)
        except KeyboardInterrupt as exc:
            print(f"\n[serve] stopping ({exc})…", flush=True)
        finally:
            stop_groups(workers, label="serve")

            close_database()
    return 0


if __name__ == "__main__":
    sys.exit(main())
