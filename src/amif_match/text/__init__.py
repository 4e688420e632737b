"""Text in: validation, HTML stripping, language guess, sentences (where input is checked).

- :mod:`.normalise`: the one place input is checked (:func:`normalise`, :func:`validate_texts`);
- :mod:`.html`, :mod:`.language`, :mod:`.sentences`: the steps it runs;
- :mod:`.assess`: whether a valid text is a description at all;
- :mod:`.documents`: the text of a .docx, .pdf, .odt, .txt, .md or .html file.
"""

from amif_match.text.documents import (
    DOCUMENT_SUFFIXES,
    MAX_DOCUMENT_BYTES,
    document_text,
    read_document,
)
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
    "DOCUMENT_SUFFIXES",
    "LANGUAGES",
    "MAX_CHARS",
    "MAX_DOCUMENT_BYTES",
    "TEXT_LANGUAGES",
    "NormalisedText",
    "as_text_list",
    "check_text",
    "detect_language",
    "document_text",
    "normalise",
    "normalise_all",
    "read_document",
    "split_sentences",
    "strip_html",
    "validate_texts",
]
