"""Template filters for text customers and staff wrote: ``urlize_korean``."""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.html import Urlizer, conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Korean writes particles straight after a word, URLs included ("https://…/faq에서", "www…를",
# "(https://…/faq)을"): Django's urlize took them into the link's address. The Hangul that ends a
# word is linked apart from it, unless it follows "/", "=", "?" … and so is the address's own path
# or query ("https://ir.example.com/주식").
_HANGUL = "\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3"
_TRAILING_HANGUL = re.compile(rf"^(.*[^{_HANGUL}])([{_HANGUL}]+)$", re.DOTALL)
_PATH_CONTINUES = frozenset("/=?#&-_%+~:@")


class _KoreanUrlizer(Urlizer):
    """Django's ``Urlizer`` that leaves a Korean particle glued to a URL outside the link."""

    def handle_word(self, word: str, **options: Any) -> str:  # type: ignore[override]
        glued = _TRAILING_HANGUL.match(word)
        if glued is None or glued.group(1)[-1] in _PATH_CONTINUES:
            return str(super().handle_word(word, **options))
        linked = str(super().handle_word(glued.group(1), **options))
        rest = glued.group(2)
        return mark_safe(linked + (conditional_escape(rest) if options.get("autoescape") else rest))  # noqa: S308


_urlize = _KoreanUrlizer()


@register.filter(is_safe=True, needs_autoescape=True)
def urlize_korean(value: str, autoescape: bool = True) -> SafeString:
    """Django's ``urlize`` (links for http(s), www and e-mail addresses, the rest escaped), with
    a Korean particle written straight after a URL kept out of the link."""
    return mark_safe(_urlize(value, nofollow=True, autoescape=autoescape))  # noqa: S308 - escaped by the Urlizer
