from django.urls import path

from support import api

app_name = "api"
urlpatterns = [
    path("questions/", api.QuestionCreateApi.as_view(), name="questions"),
    path("questions/<int:question_id>/feedback/", api.FeedbackCreateApi.as_view(), name="feedback"),
    path("tickets/", api.TicketCreateApi.as_view(), name="tickets"),
]
