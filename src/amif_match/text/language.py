"""The language of a text: any of the EU's 24 official languages, or ``"und"``.

:func:`detect_language` asks py3langid (a small naive-Bayes byte n-gram model, numpy only),
restricted to :data:`TEXT_LANGUAGES`, and trusts its answer from :data:`MIN_CONFIDENCE` on.
Below that (titles, a few words) a small stopword guesser for the catalogue languages (Finnish,
Swedish, English) may confirm py3langid's first choice; anything else is ``"und"``. Measured on
the corpus by ``benchmarks/bench_language.py``.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

__all__ = [
    "LANGUAGES",
    "MIN_CONFIDENCE",
    "TEXT_LANGUAGES",
    "WORD",
    "detect_language",
    "stopword_language",
]

#: Languages with catalogue texts (names and descriptions of objectives, activities and target
#: groups): the languages results can be *displayed* in.
LANGUAGES = ("fi", "sv", "en")

#: Languages a *text* may be in and be recognised: the 24 official languages of the EU (ISO
#: 639-1). A text in one without catalogue texts is compared with the language-neutral
#: catalogue and answered with English names.
TEXT_LANGUAGES = (
    "bg",
    "cs",
    "da",
    "de",
    "el",
    "en",
    "es",
    "et",
    "fi",
    "fr",
    "ga",
    "hr",
    "hu",
    "it",
    "lt",
    "lv",
    "mt",
    "nl",
    "pl",
    "pt",
    "ro",
    "sk",
    "sl",
    "sv",
)

#: py3langid's (length-calibrated) probability from which its language is taken as it is; below
#: it the stopword guesser must agree (see :func:`detect_language`). Whole corpus descriptions
#: and summaries are all above it (and all right). On their first 2, 3 and 5 words the rule is
#: wrong on 0.4 % of fragments (and says ``"und"`` on 39 %); 0.5 would be wrong on 1.2 %
#: (``"und"`` on 31 %), py3langid's first choice whatever its probability on 15 %.
MIN_CONFIDENCE = 0.7

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


def stopword_language(text: str) -> str:
    """Guess whether ``text`` is Finnish, Swedish or English from function words alone.

    The library's first detector, kept for short texts: it scores function words of each
    language and falls back to Finnish word endings and the letters å/ä/ö for titles. Returns
    ``"und"`` when there is no signal (e.g. German, or a few English words without a function
    word).
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
    return "und"


def detect_language(text: str) -> str:
    """The language of ``text``: one of :data:`TEXT_LANGUAGES`, or ``"und"`` when unsure.

    The rule: py3langid's most likely EU language when its probability is at least
    :data:`MIN_CONFIDENCE`; otherwise that language only if it is Finnish, Swedish or English
    and :func:`stopword_language` finds the same; otherwise ``"und"`` (undetermined: a few
    words without a clear signal, numbers or codes only). An undetermined text is still
    classified, against the language-neutral catalogue.
    """
    if not WORD.search(text):
        return "und"
    language, confidence = _identifier().classify(text)
    if confidence >= MIN_CONFIDENCE:
        return str(language)
    if language in LANGUAGES and stopword_language(text) == language:
        return str(language)
    return "und"


@cache
def _identifier() -> Any:
    """py3langid restricted to the EU languages, loaded on first use (about 0.5 s)."""
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError as error:  # a dependency: only a broken install lacks it
        from amif_match.errors import MissingDependencyError

        raise MissingDependencyError(
            "language detection needs py3langid: pip install 'py3langid>=0.4'"
        ) from error
    full = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    full.set_languages(TEXT_LANGUAGES)
    # A fresh identifier over the restricted tables only: the full one would keep all 97
    # languages' probabilities (28 MB) alive for the life of the process.
    return LanguageIdentifier(
        full.nb_ptc,
        full.nb_pc,
        full.nb_classes,
        full.tk_nextmove,
        full.tk_output,
        norm_probs=True,
        tk_row=full.tk_row,
    )
