from django.urls import path

from support import api

app_name = "api"
urlpatterns = [
    path("questions/", api.QuestionCreateApi.as_view(), name="questions"),
    path("tickets/", api.TicketCreateApi.as_view(), name="tickets"),
]
