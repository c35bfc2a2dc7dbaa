"""Article bodies as HTML: Markdown rendered, then sanitised with nh3 (ammonia).

Markdown passes raw HTML through, and staff paste articles from anywhere, so the
rendered HTML is cleaned against an allow-list: scripts and styles are dropped with
their content, event-handler and style attributes are dropped, and links may only use
http, https or mailto (no ``javascript:``/``data:`` URLs). Protocol-relative URLs
(``//host/x``, and the ``/\\host`` spellings browsers read the same way) carry no scheme
for nh3 to check, so they are dropped as well.
"""

import re

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

MARKDOWN_EXTENSIONS = ["extra", "sane_lists"]

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span",
    "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan", "scope"},
}
URL_SCHEMES = {"http", "https", "mailto"}
URL_ATTRIBUTES = {"href", "src"}


def _drop_protocol_relative(element: str, attribute: str, value: str) -> str | None:
    """nh3 ``attribute_filter``: None (drop) for a URL that names another host without a scheme."""
    if attribute in URL_ATTRIBUTES and value.strip().replace("\\", "/").startswith("//"):
        return None
    return value


_HEADING_TAG = re.compile(r"<(/?)h([1-6])\b", re.IGNORECASE)


def _below_the_title(html: str) -> str:
    """Headings one level down (h6 stays) when the body has an ``<h1>``: the page's title is its
    one ``<h1>``, and a body opening "# Title" had given the page two."""
    if not re.search(r"<h1\b", html, re.IGNORECASE):
        return html
    return _HEADING_TAG.sub(lambda m: f"<{m.group(1)}h{min(int(m.group(2)) + 1, 6)}", html)


def render_markdown(text: str, *, line_breaks: bool = False) -> SafeString:
    """Render Markdown ``text`` to HTML that is safe to insert into a page unescaped, its
    headings below the page's title (:func:`_below_the_title`). ``line_breaks`` keeps each
    line break (Python-Markdown's ``nl2br``), for text written as plain text: a support answer
    is an agent's email reply, whose lines Markdown had run together into one paragraph."""
    extensions = [*MARKDOWN_EXTENSIONS, "nl2br"] if line_breaks else MARKDOWN_EXTENSIONS
    html = _below_the_title(markdown.markdown(text, extensions=extensions, output_format="html"))
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        attribute_filter=_drop_protocol_relative,
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(cleaned)  # noqa: S308 - sanitised by nh3 just above
