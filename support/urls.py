from django.urls import path

from support import views, widget

app_name = "support"
urlpatterns = [
    path("", views.ask, name="ask"),
    path("questions/<int:question_id>/", views.question_detail, name="question"),
    path("questions/<int:question_id>/follow-up/", views.follow_up, name="follow_up"),
    path("questions/<int:question_id>/escalate/", views.escalate, name="escalate"),
    path("questions/<int:question_id>/feedback/", views.feedback, name="feedback"),
    path("tickets/<str:reference>/", views.ticket_detail, name="ticket"),
    path("tickets/<str:reference>/messages/", views.ticket_message, name="ticket-message"),
    path("articles/<str:slug>/", views.article_detail, name="article"),
    path("widget.js", widget.widget_script, name="widget_script"),
    path("widget/demo/", widget.widget_demo, name="widget_demo"),
]
