from django.urls import path

from support.insights import views

app_name = "insights"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("gaps/", views.recompute_gaps, name="recompute_gaps"),
]
