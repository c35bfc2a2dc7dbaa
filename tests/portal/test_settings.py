"""Production settings: DEBUG off by default, no silent secret, ``check --deploy`` clean."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "support.example.com",
    "SITE_URL": "https://support.example.com",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SITE_URL"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR, env={**clean, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_passes_with_the_documented_production_environment() -> None:
    env = {**PRODUCTION_ENV, "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_a_secret_key_production_refuses_to_start_and_says_how_to_fix_it() -> None:
    result = _manage("check", env=PRODUCTION_ENV)
    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY must be set" in result.stderr
    assert "secrets.token_urlsafe" in result.stderr


def test_debug_is_off_unless_asked_for() -> None:
    env = {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}  # DJANGO_DEBUG unset
    result = _manage("shell", "-v", "0", "-c", "from django.conf import settings; print(settings.DEBUG)", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_https_defaults_follow_site_url_and_can_be_overridden() -> None:
    code = (
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.CSRF_TRUSTED_ORIGINS, "
        "getattr(s, 'SECURE_PROXY_SSL_HEADER', None))"
    )
    env = {**PRODUCTION_ENV, "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}
    out = _manage("shell", "-v", "0", "-c", code, env=env).stdout.strip()
    assert out == "True True True 31536000 ['https://support.example.com'] None"
    env |= {"DJANGO_SECURE_SSL_REDIRECT": "0", "DJANGO_SECURE_PROXY_SSL_HEADER": "1"}
    out = _manage("shell", "-v", "0", "-c", code, env=env).stdout.strip()
    assert out == "True True False 31536000 ['https://support.example.com'] ('HTTP_X_FORWARDED_PROTO', 'https')"
