from django.urls import path

from support import views

app_name = "support"
urlpatterns = [
    path("", views.ask, name="ask"),
    path("questions/<int:question_id>/", views.question_detail, name="question"),
    path("questions/<int:question_id>/follow-up/", views.follow_up, name="follow_up"),
    path("questions/<int:question_id>/escalate/", views.escalate, name="escalate"),
    path("tickets/<str:reference>/", views.ticket_detail, name="ticket"),
    path("articles/<str:slug>/", views.article_detail, name="article"),
]
