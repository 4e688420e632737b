"""Text in: validation, HTML stripping, language guess, sentences (where input is checked)."""

from amif_match.text.normalise import (
    LANGUAGES,
    MAX_CHARS,
    NormalisedText,
    as_text_list,
    check_text,
    detect_language,
    normalise,
    split_sentences,
    strip_html,
    validate_texts,
)

__all__ = [
    "LANGUAGES",
    "MAX_CHARS",
    "NormalisedText",
    "as_text_list",
    "check_text",
    "detect_language",
    "normalise",
    "split_sentences",
    "strip_html",
    "validate_texts",
]
