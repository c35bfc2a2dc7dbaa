from django.urls import path, re_path

from support import api

app_name = "api"
urlpatterns = [
    path("questions/", api.QuestionCreateApi.as_view(), name="questions"),
    path("questions/<int:question_id>/feedback/", api.FeedbackCreateApi.as_view(), name="feedback"),
    path("tickets/", api.TicketCreateApi.as_view(), name="tickets"),
    re_path(r"^(?P<path>[\s\S]*)$", api.api_not_found),  # JSON, not the HTML 404 page, for API clients
]
