"""Request-level guards: bodies too large to read (413) or of no stated length (411), a NUL
character in the query string (400), and no database connection free (503).

``RequestSizeLimitMiddleware`` refuses an oversized body before a view reads it.

``DatabaseBusyMiddleware``: past the database's capacity, answer 503 with ``Retry-After``
instead of a 500. With Django's psycopg pool (``DATABASES[...]["OPTIONS"]["pool"]``), a
request that finds every connection of its process busy waits ``DB_POOL_TIMEOUT`` seconds
in ``ConnectionPool.getconn()``, which then raises ``psycopg_pool.PoolTimeout``. Django wraps
driver errors raised while connecting (``BaseDatabaseWrapper.ensure_connection`` runs under
``wrap_database_errors``), so the view sees ``django.db.OperationalError`` whose
``__cause__`` is the ``PoolTimeout``. Without a pool (``DB_POOL=0``, e.g. behind pgbouncer)
the same overload shows up as PostgreSQL refusing the connection with SQLSTATE 53300
("sorry, too many clients already"), which is mapped the same way. Nothing was written when
either happens (no connection was ever obtained), so the client can safely retry.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.formats import number_format
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


def _is_api(request: HttpRequest) -> bool:
    """JSON errors under ``/api/``; pages get HTML."""
    return request.path.startswith("/api/")


def json_error(message: str, status: int) -> JsonResponse:
    """``{"detail": message}`` in UTF-8 as DRF writes its errors (not ``\\uXXXX`` escapes): every
    JSON error the API answers outside DRF (this module's guards, :func:`support.api.api_not_found`)."""
    return JsonResponse({"detail": message}, status=status, json_dumps_params={"ensure_ascii": False})


TOO_MANY_CONNECTIONS = "53300"  # PostgreSQL's too_many_connections SQLSTATE


def database_busy(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) means "no database connection available now"."""
    from psycopg_pool import PoolTimeout

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, PoolTimeout):
            return True
        if getattr(seen, "sqlstate", None) == TOO_MANY_CONNECTIONS or "too many clients already" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class DatabaseBusyMiddleware:
    """Turn "no database connection available" into 503 + ``Retry-After``.

    JSON (``{"detail": ...}``, like DRF's errors) under ``/api/``, a small HTML page elsewhere.
    Other exceptions pass through untouched.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError) or not database_busy(exception):
            return None
        logger.warning("database busy, answered 503: %s %s (%s)", request.method, request.path, exception)
        retry_after = str(settings.DB_UNAVAILABLE_RETRY_AFTER)
        message = _("The service is unavailable for a moment. Please try again in a few seconds.")  # busy or down alike
        response: HttpResponse
        if _is_api(request):
            response = json_error(message, 503)
        else:
            response = HttpResponse(
                render_to_string("503.html", {"message": message}),
                status=503,
            )
        response["Retry-After"] = retry_after
        return response


def _too_large(request: HttpRequest, limit: int) -> HttpResponse:
    shown = number_format(limit, force_grouping=True)
    message = _("The request body is larger than %(limit)s bytes.") % {"limit": shown}
    if _is_api(request):
        return json_error(message, 413)
    return HttpResponse(render_to_string("413.html", {"limit": limit}, request=request), status=413)


def _length_required(request: HttpRequest) -> HttpResponse:
    message = _("Send the request body with a Content-Length header: a chunked body cannot be read.")
    if _is_api(request):
        return json_error(message, 411)
    page = render_to_string("400.html", {"message": message, "heading": _("Length required")}, request=request)
    return HttpResponse(page, status=411)


class RequestSizeLimitMiddleware:
    """413 for a body over the limit, decided from ``Content-Length`` before anything is read.

    API requests are limited to ``API_MAX_BODY_BYTES`` (a question is at most a few KiB of
    JSON); other requests to Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``, whose own
    ``RequestDataTooBig`` (raised while a form body is read) becomes 413 too, not 400.

    A body sent with ``Transfer-Encoding: chunked`` and no ``Content-Length`` is a 411 (Length
    Required, RFC 9110 §15.5.12): Django reads a request body only up to ``Content-Length``, so
    such a question arrived empty and was answered "this field is required", a 200 KB one too
    (nineteenth session's audit).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def _limit(self, request: HttpRequest) -> int:
        if _is_api(request):
            return int(settings.API_MAX_BODY_BYTES)
        return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower() and not request.META.get(
            "CONTENT_LENGTH"
        ):
            return _length_required(request)
        limit = self._limit(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit and length > limit:
            return _too_large(request, limit)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig):
            return _too_large(request, self._limit(request))
        return None


class NulInQueryMiddleware:
    """400 for a query string holding a NUL character, before a view reads it: PostgreSQL text
    cannot hold one, and an admin list filter such as ``?status=%00`` reached the database and
    was a 500 (eighteenth session). Pages get a short page in the visitor's language, the API
    ``{"detail": …}``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()):
            message = _("The address holds a character that is not allowed (NUL).")
            if _is_api(request):
                return json_error(message, 400)
            return HttpResponse(render_to_string("400.html", {"message": message}, request=request), status=400)
        return self.get_response(request)
