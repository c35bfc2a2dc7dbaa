"""Request-level guards that must run before a view reads the body."""

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string


def _too_large(request: HttpRequest, limit: int) -> HttpResponse:
    message = f"The request body is larger than {limit:,} bytes."
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=413)
    return HttpResponse(render_to_string("413.html", {"limit": limit}, request=request), status=413)


class RequestSizeLimitMiddleware:
    """413 for a body over the limit, decided from ``Content-Length`` before anything is read.

    API requests are limited to ``API_MAX_BODY_BYTES`` (a question is at most a few KiB of
    JSON); other requests to Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``, whose own
    ``RequestDataTooBig`` (raised while a form body is read) becomes 413 too, not 400.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def _limit(self, request: HttpRequest) -> int:
        if request.path.startswith("/api/"):
            return int(settings.API_MAX_BODY_BYTES)
        return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)

    def __call__(self, request: HttpRequest) -> HttpResponse:
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
