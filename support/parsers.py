"""The API's JSON parser: DRF's, with input nested too deeply for Python's parser answered
as a 400 like any other malformed JSON, and a UTF-8 byte-order mark skipped."""

import codecs
import io
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class JSONParserNestingSafe(JSONParser):
    """DRF's :class:`~rest_framework.parsers.JSONParser`, but JSON nested deeper than the
    interpreter's recursion limit (about 1,000 levels: ``[[[…]]]``, 2 KB of brackets) raises
    :class:`~rest_framework.exceptions.ParseError` (400, "JSON parse error - …") instead of
    the ``RecursionError`` that ``json.load`` raises there and DRF does not catch (a 500).
    No body the API accepts comes near that depth."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        """A leading UTF-8 byte-order mark (Windows tools write one) is skipped, as RFC 8259 §8.1
        allows, rather than refused as malformed JSON. Bodies are at most ``API_MAX_BODY_BYTES``,
        so reading one whole is cheap."""
        if stream is not None:
            body = stream.read()
            stream = io.BytesIO(body[len(codecs.BOM_UTF8) :] if body.startswith(codecs.BOM_UTF8) else body)
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
