"""The embeddable widget: ``GET /widget.js`` (the script, at a stable URL) and ``GET /widget/demo/``.

The script is the static file ``support/static/support/widget.js``. Sites paste its URL
once, so it cannot carry a content hash like WhiteNoise's other files: browsers keep it
``WIDGET_CACHE_SECONDS`` and then revalidate it with its ETag (a 304 when unchanged).
"""

import hashlib
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_safe

WIDGET_SCRIPT = "support/widget.js"


def _widget_source() -> tuple[bytes, str]:
    """The script's bytes and a strong ETag of them; ``Http404`` if the static file is missing."""
    found = finders.find(WIDGET_SCRIPT)
    if not found:
        raise Http404
    body = Path(str(found)).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@require_safe
def widget_script(request: HttpRequest) -> HttpResponse:
    """The widget's JavaScript (``text/javascript``), cached publicly and revalidated by ETag;
    HEAD too (link checkers and caches ask it)."""
    body, etag = _widget_source()
    full = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response = get_conditional_response(request, etag=etag, response=full) or full  # 304 when current
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=settings.WIDGET_CACHE_SECONDS)
    return response


@require_GET
def widget_demo(request: HttpRequest) -> HttpResponse:
    """A plain page that embeds the widget the way a customer's site would: in ``?lang`` (ko or
    en), else in the page's own language (the browser's or the language switcher's, as every
    page here), so its text and the widget never differ."""
    asked = request.GET.get("lang")
    language = asked if asked in ("ko", "en") else ("en" if get_language() == "en" else "ko")
    script_url = request.build_absolute_uri(reverse("support:widget_script"))
    with translation.override(language):  # the page's own text too, not only the widget's
        response = render(request, "support/widget_demo.html", {"widget_language": language, "script_url": script_url})
    response["Content-Language"] = language
    return response
