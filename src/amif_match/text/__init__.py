"""Text in: validation, HTML stripping, language guess, sentences (where input is checked).

- :mod:`.normalise`: the one place input is checked (:func:`normalise`, :func:`validate_texts`);
- :mod:`.html`, :mod:`.language`, :mod:`.sentences`: the steps it runs;
- :mod:`.assess`: whether a valid text is a description at all.
"""

from amif_match.text.language import LANGUAGES, TEXT_LANGUAGES, detect_language
from amif_match.text.normalise import (
    MAX_CHARS,
    NormalisedText,
    as_text_list,
    check_text,
    normalise,
    normalise_all,
    strip_html,
    validate_texts,
)
from amif_match.text.sentences import split_sentences

__all__ = [
    "LANGUAGES",
    "MAX_CHARS",
    "TEXT_LANGUAGES",
    "NormalisedText",
    "as_text_list",
    "check_text",
    "detect_language",
    "normalise",
    "normalise_all",
    "split_sentences",
    "strip_html",
    "validate_texts",
]
