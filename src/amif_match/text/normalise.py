"""Text normalisation: input validation, HTML stripping, language guess and sentence splitting.

This is the first step of every pipeline (text -> normalise -> embed -> compare), so every check
on what a user passed in lives here and fails with an :class:`~amif_match.errors.InputError` or
``TypeError`` that names the problem and, for batches, the position.
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

__all__ = [
    "LANGUAGES",
    "MAX_CHARS",
    "NormalisedText",
    "detect_language",
    "normalise",
    "split_sentences",
    "strip_html",
    "validate_texts",
]

#: Languages with catalogue texts. Any other language is still embedded (the model is
#: multilingual) but reported as ``"und"`` and answered with English names.
LANGUAGES = ("fi", "sv", "en")

#: Longest accepted text, in characters. Far above any real application (a 30-page proposal is
#: about 100 000 characters); the bound keeps memory predictable for services.
MAX_CHARS = 1_000_000

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# UTF-16 surrogates: in a Python str they are always unpaired (e.g. from decoding with
# errors="surrogateescape") and cannot be encoded for the tokenizer.
_SURROGATE = re.compile("[\ud800-\udfff]")

# Frequent function words; a language is guessed from the share of tokens found in each list.
_STOPWORDS: dict[str, frozenset[str]] = {
    "fi": frozenset(
        [
            "ja",
            "on",
            "ei",
            "että",
            "se",
            "ovat",
            "sekä",
            "myös",
            "kuin",
            "tai",
            "jotka",
            "joka",
            "jossa",
            "joiden",
            "mutta",
            "ole",
            "olla",
            "oli",
            "hankkeen",
            "hankkeessa",
            "hanke",
            "hankkeella",
            "tavoitteena",
            "tavoite",
            "kanssa",
            "kautta",
            "lisäksi",
            "sekä",
            "niiden",
            "heidän",
            "tämä",
            "tämän",
            "nämä",
            "näiden",
            "mm",
            "eli",
            "vuoden",
            "välillä",
            "osana",
            "avulla",
            "varten",
        ]
    ),
    "sv": frozenset(
        [
            "och",
            "att",
            "det",
            "som",
            "en",
            "ett",
            "för",
            "med",
            "av",
            "är",
            "på",
            "till",
            "den",
            "de",
            "inte",
            "har",
            "om",
            "men",
            "eller",
            "så",
            "från",
            "vid",
            "hos",
            "samt",
            "också",
            "kan",
            "ska",
            "skall",
            "projektet",
            "projekt",
            "genom",
            "mellan",
            "under",
            "deras",
            "detta",
            "dessa",
            "vilka",
            "inom",
        ]
    ),
    "en": frozenset(
        [
            "the",
            "and",
            "of",
            "to",
            "in",
            "for",
            "is",
            "are",
            "with",
            "on",
            "that",
            "this",
            "by",
            "as",
            "be",
            "from",
            "an",
            "it",
            "or",
            "at",
            "which",
            "their",
            "project",
            "will",
            "its",
            "into",
            "through",
            "between",
            "also",
            "has",
            "have",
            "these",
            "those",
            "was",
            "were",
        ]
    ),
}
# Function words of other common languages: when they win, the text is none of ours.
_OTHER = frozenset(
    [
        "der",
        "die",
        "das",
        "und",
        "ist",
        "nicht",
        "mit",
        "für",
        "bei",
        "von",
        "zu",
        "den",
        "dem",
        "ein",
        "eine",
        "auf",
        "wird",
        "sind",
        "le",
        "la",
        "les",
        "et",
        "est",
        "des",
        "du",
        "une",
        "pour",
        "dans",
        "avec",
        "sur",
        "el",
        "los",
        "las",
        "y",
        "es",
        "del",
        "para",
        "con",
        "una",
        "por",
        "que",
    ]
)
# Word endings that are very common in Finnish and rare in Swedish/English; they decide short
# texts without function words (titles such as "Paluuneuvonnan kehittäminen").
_FI_SUFFIX = re.compile(
    r"(minen|misen|mista|maan|ssa|ssä|sta|stä|lla|llä|lle|ksi|tten|iden|ien|ujen|yyden|uuden)$"
)


@dataclass(frozen=True)
class NormalisedText:
    """A validated input text ready for embedding.

    Attributes:
        original: The text exactly as the caller gave it.
        text: The text with HTML removed and whitespace tidied.
        language: ``"fi"``, ``"sv"``, ``"en"`` or ``"und"`` (undetermined).
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


def detect_language(text: str) -> str:
    """Guess whether ``text`` is Finnish, Swedish or English.

    A deliberately small, dependency-free guesser tuned for project descriptions: it scores
    function words of each language and falls back to Finnish word endings and the letters
    å/ä/ö for short titles. Returns ``"und"`` when there is no signal (e.g. German).
    """
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return "und"
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    ranked = sorted(scores.values(), reverse=True)
    if sum(w in _OTHER for w in words) > ranked[0]:
        return "und"
    if ranked[0] >= 2 and ranked[0] > ranked[1]:
        return best
    lowered = text.lower()
    # The longest suffix has five letters: searching more of a word (a 1 MB "word" without
    # spaces) would only cost time.
    fi_suffixes = sum(bool(_FI_SUFFIX.search(w[-5:])) for w in words)
    if "å" in lowered and fi_suffixes * 2 < len(words):
        return "sv"
    if fi_suffixes and (fi_suffixes * 3 >= len(words) or re.search("[äö]", lowered)):
        return "fi"
    if ranked[0] >= 1 and ranked[0] > ranked[1]:
        return best
    if re.search("[äö]", lowered):
        return "fi"
    if text.isascii() and any(w in _STOPWORDS["en"] for w in words):
        return "en"
    if text.isascii() and len(words) <= 8:
        # ASCII-only short phrases without signal: English is the most likely of the three.
        return "en" if not fi_suffixes else "fi"
    return "und"


_ABBREVIATIONS = re.compile(
    r"\b(esim|mm|ks|ns|yms|jne|t\.ex|bl\.a|m\.m|e\.g|i\.e|etc|vs|nr|no|s|n|ca|kl|prof|dr)\.$",
    re.IGNORECASE,
)
_BOUNDARY = re.compile(r"(?<=[.!?…])\s+(?=[\"'”“(\[]?[A-ZÅÄÖ0-9])")
_BULLET = re.compile(r"^\s*(?:[-•*–·]|\d{1,2}[.)])\s+")
# Characters that end a line for good: the next line starts a new sentence.
_LINE_END = frozenset(".!?:;…")


def _lines(text: str) -> list[str]:
    """Logical lines: hard-wrapped lines are joined, paragraphs and list items kept apart.

    A line continues the previous one when that one does not end a sentence and the line
    starts in lower case (a wrapped sentence); headings and list items stay separate.
    """
    # Each logical line is collected as a list of fragments and joined once at the end:
    # extending a growing string line by line would be quadratic ("a\n" * 40_000).
    lines: list[list[str]] = []
    for raw in re.split(r"\n\s*\n", text):
        current: list[str] | None = None  # never join across a paragraph break
        for line in raw.split("\n"):
            stripped = line.strip()
            if not stripped:
                continue
            if (
                current is not None
                and not _BULLET.match(line)
                and stripped[0].islower()
                and current[-1][-1] not in _LINE_END
            ):
                current.append(stripped)
            else:
                current = [stripped]
                lines.append(current)
    return [" ".join(fragments) for fragments in lines]


def split_sentences(text: str, *, max_words: int = 80) -> list[str]:
    """Split a text into sentences and list items.

    Paragraph breaks and bullet lines always split; sentence punctuation splits unless it ends a
    common abbreviation (esim., t.ex., e.g., ...). Sentences longer than ``max_words`` words are
    cut into pieces of that size so that every piece fits the model's window.
    """
    pieces: list[str] = []
    for line in _lines(text):
        line = _BULLET.sub("", line).strip()
        if not line:
            continue
        # A part that ends in an abbreviation continues with the next part. Only the last part
        # is searched (the abbreviation cannot span the space between parts), and the merged
        # sentence is joined once: re-searching and re-building the growing sentence made
        # "Esim. " * 10_000 quadratic.
        merged: list[list[str]] = []
        for part in _BOUNDARY.split(line):
            if merged and _ABBREVIATIONS.search(merged[-1][-1]):
                merged[-1].append(part)
            else:
                merged.append([part])
        pieces.extend(" ".join(parts) for parts in merged)
    out: list[str] = []
    for sentence in pieces:
        words = sentence.split()
        if len(words) <= max_words:
            out.append(" ".join(words))
        else:
            out.extend(" ".join(words[i : i + max_words]) for i in range(0, len(words), max_words))
    return [s for s in out if _WORD.search(s)]


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
        language: Force ``"fi"``, ``"sv"`` or ``"en"`` instead of guessing.
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
    if language is not None and language not in LANGUAGES:
        raise InputError(
            f"language must be one of {', '.join(LANGUAGES)} (or None to detect), got {language!r}"
        )
    plain, had_html = strip_html(original)
    tidy = "\n".join(" ".join(line.split()) for line in plain.splitlines())
    tidy = re.sub(r"\n{3,}", "\n\n", tidy).strip()
    at = f" at position {position}" if position is not None else ""
    if not _WORD.search(tidy):
        raise InputError(
            f"text{at} contains no words" + (" after removing HTML" if had_html else "")
        )
    sentences = tuple(split_sentences(tidy)) or (tidy,)
    return NormalisedText(
        original=original,
        text=tidy,
        language=language or detect_language(tidy),
        sentences=sentences,
        had_html=had_html,
        problem=description_problem(tidy),
    )


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
