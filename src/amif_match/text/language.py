"""A small, dependency-free guess of a text's language: Finnish, Swedish, English or none."""

from __future__ import annotations

import re

__all__ = ["WORD", "detect_language"]

#: A word: a run of letters (no digits, no underscores).
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

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


def detect_language(text: str) -> str:
    """Guess whether ``text`` is Finnish, Swedish or English.

    A deliberately small, dependency-free guesser tuned for project descriptions: it scores
    function words of each language and falls back to Finnish word endings and the letters
    å/ä/ö for short titles. Returns ``"und"`` when there is no signal (e.g. German).
    """
    words = [w.lower() for w in WORD.findall(text)]
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
