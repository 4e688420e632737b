"""Text normalisation: input validation, HTML stripping, language guess and sentence splitting.

This is the first step of every pipeline (text -> normalise -> embed -> compare), so every check
on what a user passed in lives here and fails with an :class:`~amif_match.errors.InputError` or
``TypeError`` that names the problem and, for batches, the position.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

from amif_match.errors import InputError

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

_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

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
    """

    original: str
    text: str
    language: str
    sentences: tuple[str, ...]
    had_html: bool


class _TextExtractor(HTMLParser):
    _BLOCK = frozenset(
        [
            "p",
            "div",
            "br",
            "li",
            "ul",
            "ol",
            "tr",
            "td",
            "th",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "section",
            "article",
            "header",
            "footer",
            "table",
            "blockquote",
            "pre",
        ]
    )
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def strip_html(text: str) -> tuple[str, bool]:
    """Remove HTML tags and decode entities; returns ``(text, changed)``.

    Block elements become line breaks so that paragraphs survive for sentence splitting. Text
    without tags or entities is returned unchanged.
    """
    if not _TAG.search(text) and "&" not in text:
        return text, False
    if not _TAG.search(text):
        decoded = html.unescape(text)
        return decoded, decoded != text
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts), True


def validate_texts(texts: object, *, max_chars: int = MAX_CHARS, what: str = "text") -> list[str]:
    """Check a batch of texts and return it as a list.

    Raises:
        TypeError: ``texts`` is not a sequence of strings (names the first bad position).
        InputError: the batch is empty, or a text is empty, whitespace only or too long.
    """
    if isinstance(texts, str | bytes):
        raise TypeError(f"expected a list of {what}s, got a single {type(texts).__name__}")
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
    fi_suffixes = sum(bool(_FI_SUFFIX.search(w)) for w in words)
    if "å" in lowered and fi_suffixes * 2 < len(words):
        return "sv"
    if fi_suffixes and (fi_suffixes * 3 >= len(words) or re.search("[äö]", lowered)):
        return "fi"
    if ranked[0] >= 1 and ranked[0] > ranked[1]:
        return best
    if re.search("[äö]", lowered):
        return "fi"
    if all(ord(c) < 128 for c in text) and any(w in _STOPWORDS["en"] for w in words):
        return "en"
    if all(ord(c) < 128 for c in text) and len(words) <= 8:
        # ASCII-only short phrases without signal: English is the most likely of the three.
        return "en" if not fi_suffixes else "fi"
    return "und"


_ABBREVIATIONS = re.compile(
    r"\b(esim|mm|ks|ns|yms|jne|t\.ex|bl\.a|m\.m|e\.g|i\.e|etc|vs|nr|no|s|n|ca|kl|prof|dr)\.$",
    re.IGNORECASE,
)
_BOUNDARY = re.compile(r"(?<=[.!?…])\s+(?=[\"'”“(\[]?[A-ZÅÄÖ0-9])")
_BULLET = re.compile(r"^\s*(?:[-•*–·]|\d{1,2}[.)])\s+")


def _lines(text: str) -> list[str]:
    """Logical lines: hard-wrapped lines are joined, paragraphs and list items kept apart.

    A line continues the previous one when that one does not end a sentence and the line
    starts in lower case (a wrapped sentence); headings and list items stay separate.
    """
    out: list[str] = []
    for raw in re.split(r"\n\s*\n", text):
        for line in raw.split("\n"):
            stripped = line.strip()
            if not stripped:
                continue
            if (
                out
                and not _BULLET.match(line)
                and stripped[0].islower()
                and not re.search(r"[.!?:;…]$", out[-1])
            ):
                out[-1] = f"{out[-1]} {stripped}"
            else:
                out.append(stripped)
        out.append("")  # paragraph boundary: never join across it
    return [line for line in out if line]


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
        parts = _BOUNDARY.split(line)
        merged: list[str] = []
        for part in parts:
            if merged and _ABBREVIATIONS.search(merged[-1]):
                merged[-1] = f"{merged[-1]} {part}"
            else:
                merged.append(part)
        pieces.extend(merged)
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
        InputError: empty, too long, no words left after removing HTML, or unknown ``language``.
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
    )


def as_text_list(texts: str | Sequence[str] | object) -> tuple[list[object], bool]:
    """Return ``(items, was_single)`` for APIs that accept one text or many (lists, Series)."""
    if isinstance(texts, str):
        return [texts], True
    if isinstance(texts, bytes):
        raise TypeError("expected str or a list of str, got bytes (decode it first)")
    try:
        return list(texts), False  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"expected str or a list of str, got {type(texts).__name__}") from None
