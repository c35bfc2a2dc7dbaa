from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/insights/", include("support.insights.urls")),  # before the admin's catch-all
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("support.api_urls")),
    path("", include("support.urls")),
]
