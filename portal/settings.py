"""Settings for the support portal: one env-driven module, local defaults that just work.

Every knob (models, thresholds, limits) is a named setting read from the environment.
No production secret has a default: with ``DJANGO_DEBUG=0`` a missing ``DJANGO_SECRET_KEY``
stops start-up.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("PORTAL_DATA_DIR", BASE_DIR / ".data"))


def envbool(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def envint(name: str, default: str) -> int:
    value = os.environ.get(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def envfloat(name: str, default: str) -> float:
    value = os.environ.get(name, default)
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


def envchoice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def embedded_database_url(database: str = "portal") -> str:
    """URL of the project-local embedded PostgreSQL (``.data/pgdata``).

    Reading it starts nothing: ``devtools/services.py`` (run by ``make demo`` and
    ``make test``) starts the server and exports ``DATABASE_URL`` to its children. The
    server listens on a Unix socket in its data folder, which is what this points at.
    """
    return f"postgresql://postgres@/{database}?host={DATA_DIR / 'pgdata'}"


DEBUG = envbool("DJANGO_DEBUG", "1")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0")
    SECRET_KEY = "insecure-local-development-key"  # noqa: S105 - DEBUG only
ALLOWED_HOSTS = [
    h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",") if h
]
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "knowledge",
    "support",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(os.environ.get("DATABASE_URL") or embedded_database_url(), conn_max_age=60)
}
if os.environ.get("DATABASE_NAME"):  # the test suite points its Celery worker at the test database
    DATABASES["default"]["NAME"] = os.environ["DATABASE_NAME"]
# Separate test databases let several test runs share one server (default: test_<name>).
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", _("Korean")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Seoul")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"

# --- Redis, cache, Celery -------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "portal",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_IMPORTS = ("tasks.knowledge", "tasks.support", "tasks.maintenance")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True  # a killed worker's task goes back to the queue
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", "600")
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", "660")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Enqueueing must not hang a web request when Redis is down: fail fast, the sweeper
# (``tasks.maintenance``) picks the work up once the broker is back.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "max_retries": 1}
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_ALWAYS_EAGER = False  # never silently: tests and the demo use a real worker

# --- Email -----------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(DATA_DIR / "emails"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", "25")
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "0")
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", "10")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Support <support@example.com>")
SUPPORT_EMAIL = os.environ.get("SUPPORT_EMAIL", "support-team@example.com")
EMAIL_MAX_RETRIES = envint("EMAIL_MAX_RETRIES", "8")

# --- Outbox and indexing under faults: retries, claims, queues ----------------------------
# Emails: one attempt per task; a failed attempt sets ``next_attempt_at`` (exponential backoff
# with equal jitter, see ``support.outbox.email_retry_delay``); after the first attempt and
# ``EMAIL_MAX_RETRIES`` retries the row is ``failed`` (admin: "Re-send selected emails").
EMAIL_RETRY_BASE_SECONDS = envfloat("EMAIL_RETRY_BASE_SECONDS", "30")
EMAIL_RETRY_MAX_SECONDS = envfloat("EMAIL_RETRY_MAX_SECONDS", "3600")
# An enqueued row is not enqueued again for this long (the sweeper's lease): a queued task
# that has not run yet is not duplicated every sweep.
EMAIL_ENQUEUE_LEASE_SECONDS = envint("EMAIL_ENQUEUE_LEASE_SECONDS", "300")
# A row left ``sending`` this long had its worker die mid-send; it counts as an attempt and is
# sent again (same Message-ID). Must exceed EMAIL_TIMEOUT by a wide margin.
EMAIL_CLAIM_TIMEOUT_SECONDS = envint("EMAIL_CLAIM_TIMEOUT_SECONDS", "300")
EMAIL_SWEEP_INTERVAL_SECONDS = envfloat("EMAIL_SWEEP_INTERVAL_SECONDS", "30")
# Indexing: a claim older than this is judged dead (it must exceed CELERY_TASK_TIME_LIMIT);
# an article claimed INDEX_MAX_ATTEMPTS times without finishing is marked ``failed``.
INDEX_CLAIM_TIMEOUT_SECONDS = envint("INDEX_CLAIM_TIMEOUT_SECONDS", "900")
INDEX_MAX_ATTEMPTS = envint("INDEX_MAX_ATTEMPTS", "3")
INDEX_SWEEP_INTERVAL_SECONDS = envfloat("INDEX_SWEEP_INTERVAL_SECONDS", "60")
# Separate queues, so a 1,000-article import never delays an acknowledgement email. Workers
# consume both by default (``-Q emails,indexing,celery``) or one each (README).
CELERY_TASK_ROUTES = {
    "tasks.support.*": {"queue": "emails"},
    "tasks.maintenance.sweep_emails": {"queue": "emails"},
    "tasks.knowledge.*": {"queue": "indexing"},
    "tasks.maintenance.sweep_indexing": {"queue": "indexing"},
}
CELERY_BEAT_SCHEDULE = {
    "sweep-emails": {"task": "tasks.maintenance.sweep_emails", "schedule": EMAIL_SWEEP_INTERVAL_SECONDS},
    "sweep-indexing": {"task": "tasks.maintenance.sweep_indexing", "schedule": INDEX_SWEEP_INTERVAL_SECONDS},
}

# --- Knowledge: chunking, embeddings, retrieval -----------------------------------------
ARTICLE_BODY_MAX_CHARS = envint("ARTICLE_BODY_MAX_CHARS", "200000")
CHUNK_TOKENS = envint("CHUNK_TOKENS", "800")  # cl100k_base tokens per chunk body
CHUNK_OVERLAP_TOKENS = envint("CHUNK_OVERLAP_TOKENS", "100")
EMBEDDING_PROVIDER = envchoice("EMBEDDING_PROVIDER", "local", ("local", "openai"))
EMBEDDING_BATCH_SIZE = envint("EMBEDDING_BATCH_SIZE", "16")
OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY", "")
OPENAI_BASE_URL = os.environ.get("OPENAI_BASE_URL", "")
OPENAI_EMBEDDING_MODEL = os.environ.get("OPENAI_EMBEDDING_MODEL", "text-embedding-3-small")
OPENAI_CHAT_MODEL = os.environ.get("OPENAI_CHAT_MODEL", "gpt-4o-mini")
OPENAI_TIMEOUT_SECONDS = envfloat("OPENAI_TIMEOUT_SECONDS", "20")
OPENAI_MAX_RETRIES = envint("OPENAI_MAX_RETRIES", "2")
OPENAI_MAX_OUTPUT_TOKENS = envint("OPENAI_MAX_OUTPUT_TOKENS", "500")
OPENAI_CONTEXT_TOKENS = envint("OPENAI_CONTEXT_TOKENS", "3000")  # budget for source excerpts

RETRIEVAL_FUSION = envchoice("RETRIEVAL_FUSION", "score", ("score", "rrf"))
RETRIEVAL_CANDIDATES = envint("RETRIEVAL_CANDIDATES", "40")  # per retriever, before fusion
RETRIEVAL_DENSE_WEIGHT = envfloat("RETRIEVAL_DENSE_WEIGHT", "0.4")  # score fusion only
RETRIEVAL_RRF_K = envint("RETRIEVAL_RRF_K", "60")  # Cormack et al. 2009
LEXICAL_SCORING = envchoice("LEXICAL_SCORING", "bm25", ("bm25", "ts_rank_cd"))
BM25_K1 = envfloat("BM25_K1", "1.2")  # Robertson & Zaragoza 2009, usual defaults
BM25_B = envfloat("BM25_B", "0.75")
HNSW_EF_SEARCH = envint("HNSW_EF_SEARCH", "100")
ANSWER_SOURCES = envint("ANSWER_SOURCES", "3")

# --- Answering, escalation --------------------------------------------------------------
CHAT_PROVIDER = envchoice(
    "CHAT_PROVIDER", "openai" if (OPENAI_API_KEY or OPENAI_BASE_URL) else "extractive", ("openai", "extractive")
)
# Calibrated on ../shared/data/korquad_v1.0_dev_articles_000-069.json with
# ``manage.py calibrate --exclude-fraction 0.5 --target-answered 0.92`` (README): the highest
# threshold that still answers 92 % of in-scope questions. This seeds the admin-editable
# answer policy (support > answer policy) when the database is created.
ANSWER_CONFIDENCE_THRESHOLD = envfloat("ANSWER_CONFIDENCE_THRESHOLD", "0.731")
# Logistic weights [intercept, coverage, dense, bm25, margin] for support.confidence, fitted by
# ``manage.py calibrate --fit-weights`` on ../shared/data/korquad_v1.0_dev_articles_000-069.json
# (--exclude-fraction 0.5, seed 0; see README). Comma-separated floats.
CONFIDENCE_WEIGHTS = [
    float(x) for x in os.environ.get("CONFIDENCE_WEIGHTS", "-10.1842,6.9728,7.0937,2.7717,3.4868").split(",")
]
if len(CONFIDENCE_WEIGHTS) != 5:
    raise ImproperlyConfigured("CONFIDENCE_WEIGHTS must be 5 comma-separated numbers")
QUESTION_MAX_CHARS = envint("QUESTION_MAX_CHARS", "1000")
TICKET_DETAILS_MAX_CHARS = envint("TICKET_DETAILS_MAX_CHARS", "5000")
ASK_RATE_LIMIT = os.environ.get("ASK_RATE_LIMIT", "30/m")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
RATELIMIT_USE_CACHE = "default"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
