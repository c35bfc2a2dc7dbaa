from django.contrib import admin
from django.urls import include, path, re_path

from support.api import DocsView, SchemaView, api_not_found
from support.insights.views import staff_search_page
from support.views import favicon

urlpatterns = [
    path("admin/insights/", include("support.insights.urls")),  # before the admin's catch-all
    path("admin/search/", staff_search_page, name="staff-search"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("support.api_urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    # Split view: the start-up script is a separate same-origin file, so the strict CSP holds.
    path(
        "api/docs/",
        DocsView.as_view(url_name="api-schema", template_name="api_docs.html"),
        name="api-docs",
    ),
    # /api/, /api/v2/…: JSON 404s for API clients too (api/docs and api/schema: their slash)
    re_path(r"^api(?:/(?P<path>[\s\S]*))?$", api_not_found),
    # Browsers ask for /favicon.ico where a page names no icon (a JSON response, an image).
    path("favicon.ico", favicon),
    path("", include("support.urls")),
]
