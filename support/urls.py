from django.urls import path, register_converter
from django.urls.converters import StringConverter

from support import views, widget


class SegmentConverter(StringConverter):
    """A path segment without a NUL character: PostgreSQL text cannot hold one, so a URL with
    ``%00`` in a ticket reference or an article slug is simply not found (it was a 500)."""

    regex = "[^/\x00]+"


register_converter(SegmentConverter, "segment")

app_name = "support"
urlpatterns = [
    path("", views.ask, name="ask"),
    path("questions/<int:question_id>/", views.question_detail, name="question"),
    path("questions/<int:question_id>/follow-up/", views.follow_up, name="follow_up"),
    path("questions/<int:question_id>/escalate/", views.escalate, name="escalate"),
    path("questions/<int:question_id>/feedback/", views.feedback, name="feedback"),
    path("tickets/<segment:reference>/", views.ticket_detail, name="ticket"),
    path("tickets/<segment:reference>/messages/", views.ticket_message, name="ticket-message"),
    path("articles/<segment:slug>/", views.article_detail, name="article"),
    path("widget.js", widget.widget_script, name="widget_script"),
    path("widget/demo/", widget.widget_demo, name="widget_demo"),
]
