"""The API's JSON parser: DRF's, with input nested too deeply for Python's parser answered
as a 400 like any other malformed JSON, a UTF-8 byte-order mark skipped, and the message in
the request's language."""

import codecs
import io
import json
from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class JSONParserNestingSafe(JSONParser):
    """DRF's :class:`~rest_framework.parsers.JSONParser`, but JSON nested deeper than the
    interpreter's recursion limit (about 1,000 levels: ``[[[…]]]``, 2 KB of brackets) raises
    :class:`~rest_framework.exceptions.ParseError` (400, "… nested too deeply") instead of
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
            raise ParseError(_("The request body is not valid JSON: it is nested too deeply.")) from exc
        except ParseError as exc:
            raise ParseError(malformed_json_message(exc.__context__)) from exc


def malformed_json_message(cause: BaseException | None) -> str:
    """The 400's ``detail`` for a body DRF could not parse, in the active language: where the
    JSON breaks (line and column, 1-based, from :class:`json.JSONDecodeError`) when known. DRF's
    own "JSON parse error - Expecting value: line 1 column 14 (char 13)" is not translated, so a
    Korean client got English for this one error (nineteenth session's audit)."""
    if isinstance(cause, json.JSONDecodeError):
        return _("The request body is not valid JSON (line %(line)d, column %(column)d).") % {
            "line": cause.lineno, "column": cause.colno,
        }  # fmt: skip
    return _("The request body is not valid JSON.")
