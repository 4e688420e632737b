"""Text normalisation: input validation, then HTML stripping, language guess, sentence splitting.

This is the first step of every pipeline (text -> normalise -> embed -> compare), so every check
on what a user passed in lives here and fails with an :class:`~amif_match.errors.InputError` or
``TypeError`` that names the problem and, for batches, the position. The steps themselves are
in :mod:`~amif_match.text.html`, :mod:`~amif_match.text.language` and
:mod:`~amif_match.text.sentences`.
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from amif_match.errors import InputError
from amif_match.text.assess import description_problem
from amif_match.text.html import html_to_text
from amif_match.text.language import LANGUAGES, TEXT_LANGUAGES, WORD, detect_language
from amif_match.text.sentences import split_sentences

__all__ = [
    "LANGUAGES",
    "MAX_CHARS",
    "TEXT_LANGUAGES",
    "NormalisedText",
    "normalise",
    "normalise_all",
    "sentences_of",
    "strip_html",
    "validate_texts",
]

#: Longest accepted text, in characters. Far above any real application (a 30-page proposal is
#: about 100 000 characters); the bound keeps memory predictable for services.
MAX_CHARS = 200_000

# UTF-16 surrogates: in a Python str they are always unpaired (e.g. from decoding with
# errors="surrogateescape") and cannot be encoded for the tokenizer.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class NormalisedText:
    """A validated input text ready for embedding.

    Attributes:
        original: The text exactly as the caller gave it.
        text: The text with HTML removed and whitespace tidied.
        language: The text's language, one of :data:`TEXT_LANGUAGES` (``"fi"``, ``"de"``,
            ``"el"``, ...), or ``"und"`` (undetermined: too short or no clear signal).
        sentences: The sentence/paragraph split used for evidence and long-text handling.
        had_html: Whether HTML tags or entities were removed.
        problem: Why the text does not read as a project description at all (binary data, no
            words, another script, one word repeated), or ``None``. Such texts are not sent to
            the model; :meth:`amif_match.Matcher.classify` reports them as not assessed.
    """

    original: str
    text: str
    language: str
    sentences: tuple[str, ...]
    had_html: bool
    problem: str | None = None


def strip_html(text: str) -> tuple[str, bool]:
    """Remove HTML tags and decode entities; returns ``(text, changed)``.

    Block elements become line breaks so that paragraphs survive for sentence splitting. Text
    without tags or entities is returned unchanged. Linear in the length of ``text`` whatever
    it contains (see :mod:`amif_match.text.html`).
    """
    plain, had_markup = html_to_text(text)
    if had_markup:
        return plain, True
    if "&" not in text:
        return text, False
    decoded = html.unescape(text)
    return decoded, decoded != text


def validate_texts(texts: object, *, max_chars: int = MAX_CHARS, what: str = "text") -> list[str]:
    """Check a batch of texts and return it as a list.

    Raises:
        TypeError: ``texts`` is not a sequence of strings (names the first bad position); a
            mapping or a DataFrame is refused (iterating it gives keys or column names).
        InputError: the batch is empty, or a text is empty, whitespace only, too long or holds
            a lone surrogate (names the character).
    """
    if isinstance(texts, str | bytes):
        raise TypeError(f"expected a list of {what}s, got a single {type(texts).__name__}")
    _reject_non_sequence(texts, what)
    try:
        items = list(texts)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"expected a list of {what}s, got {type(texts).__name__}") from None
    if not items:
        raise InputError(f"expected at least one {what}, got an empty list")
    for i, item in enumerate(items):
        check_text(item, max_chars=max_chars, what=what, position=i)
    return items


def check_text(
    text: object, *, max_chars: int = MAX_CHARS, what: str = "text", position: int | None = None
) -> str:
    """Validate one text; see :func:`validate_texts`."""
    at = f" at position {position}" if position is not None else ""
    if not isinstance(text, str):
        hint = " (decode bytes first, e.g. data.decode('utf-8'))" if isinstance(text, bytes) else ""
        raise TypeError(f"{what}{at} must be a str, got {type(text).__name__}{hint}")
    if not text.strip():
        raise InputError(f"{what}{at} is empty or whitespace only")
    if len(text) > max_chars:
        raise InputError(
            f"{what}{at} has {len(text):,} characters; the limit is {max_chars:,}. "
            "Split the document or raise max_chars."
        )
    if not text.isascii() and (bad := _SURROGATE.search(text)):
        # Rejected rather than replaced: nothing a user gave is silently changed.
        raise InputError(
            f"{what}{at} contains a lone surrogate U+{ord(bad.group()):04X} at character "
            f"{bad.start():,}, which is not valid Unicode; decode the source with its real "
            "encoding (or errors='replace') instead of errors='surrogateescape'"
        )
    return text


def normalise(
    text: object,
    *,
    language: str | None = None,
    max_chars: int = MAX_CHARS,
    position: int | None = None,
) -> NormalisedText:
    """Validate and normalise one input text.

    Args:
        text: The proposal text (plain text or HTML).
        language: The text's language, one of :data:`TEXT_LANGUAGES` (any EU official
            language), instead of detecting it.
        max_chars: Longest accepted text.
        position: Index in a batch, used in error messages.

    Raises:
        TypeError: ``text`` is not a str.
        InputError: empty, too long, a lone surrogate, no words left after removing HTML, or
            unknown ``language``.

    Every step is linear in the length of the text. A text that does not read as a project
    description is not an error: :attr:`NormalisedText.problem` says why.
    """
    original = check_text(text, max_chars=max_chars, position=position)
    if language is not None and language not in TEXT_LANGUAGES:
        raise InputError(
            f"language must be one of {', '.join(TEXT_LANGUAGES)} (an EU official language; "
            f"or None to detect), got {language!r}"
        )
    tidy, had_html = _tidy(original, position)
    sentences = tuple(split_sentences(tidy)) or (tidy,)
    return NormalisedText(
        original=original,
        text=tidy,
        language=language or detect_language(tidy),
        sentences=sentences,
        had_html=had_html,
        problem=description_problem(tidy),
    )


def _tidy(original: str, position: int | None) -> tuple[str, bool]:
    """The text without HTML and with its whitespace tidied; refuses one without words."""
    plain, had_html = strip_html(original)
    tidy = "\n".join(" ".join(line.split()) for line in plain.splitlines())
    tidy = re.sub(r"\n{3,}", "\n\n", tidy).strip()
    at = f" at position {position}" if position is not None else ""
    if not WORD.search(tidy):
        raise InputError(
            f"text{at} contains no words" + (" after removing HTML" if had_html else "")
        )
    return tidy, had_html


def sentences_of(
    text: object, *, position: int | None = None, max_chars: int = MAX_CHARS
) -> tuple[str, ...]:
    """The sentences :func:`normalise` would give, without detecting the language.

    Embedding needs only the sentences, and language detection is most of the cost of
    normalising the catalogue and corpus texts at start-up.
    """
    original = check_text(text, max_chars=max_chars, position=position)
    tidy, _ = _tidy(original, position)
    return tuple(split_sentences(tidy)) or (tidy,)


def normalise_all(
    texts: object, *, language: str | None = None, max_chars: int = MAX_CHARS
) -> list[NormalisedText]:
    """Validate and normalise a batch (a list, tuple or pandas Series of texts, in order).

    Errors name the failing text's position when there is more than one text.

    Raises:
        TypeError: ``texts`` is not a sequence of texts (e.g. a mapping or a DataFrame).
        ValueError: the batch is empty.
    """
    items, _ = as_text_list(texts)
    if not items:
        raise ValueError("expected at least one text, got an empty list")
    many = len(items) > 1
    return [
        normalise(t, language=language, max_chars=max_chars, position=i if many else None)
        for i, t in enumerate(items)
    ]


def as_text_list(texts: str | Sequence[str] | object) -> tuple[list[object], bool]:
    """Return ``(items, was_single)`` for APIs that accept one text or many (lists, Series).

    Raises:
        TypeError: bytes, a non-iterable, a mapping or a DataFrame.
    """
    if isinstance(texts, str):
        return [texts], True
    if isinstance(texts, bytes):
        raise TypeError("expected str or a list of str, got bytes (decode it first)")
    _reject_non_sequence(texts, "text")
    try:
        return list(texts), False  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"expected str or a list of str, got {type(texts).__name__}") from None


def _reject_non_sequence(texts: object, what: str) -> None:
    """Refuse containers whose iteration does not yield the texts.

    Iterating a mapping gives its keys and a DataFrame its column names: classifying those
    would answer a question nobody asked.
    """
    if isinstance(texts, Mapping):
        raise TypeError(
            f"expected a list of {what}s, got a mapping ({type(texts).__name__}); pass the "
            f"{what}s themselves, e.g. list(d.values()), or one {what} as a str"
        )
    pandas = sys.modules.get("pandas")  # a DataFrame exists only if pandas was imported
    if pandas is not None and isinstance(texts, pandas.DataFrame):
        raise TypeError(
            f"expected a list of {what}s, got a DataFrame; pass one column, e.g. df['text']"
        )
