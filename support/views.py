"""Customer-facing pages (placeholder until the page slice lands)."""

from django.http import HttpRequest, HttpResponse


def ask(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


question_detail = escalate = ticket_detail = article_detail = ask
