"""Does a text read as a project description at all?

The embedding model maps *any* string to a unit vector, and the heads then answer with
confident-looking probabilities: binary data, Chinese text or ``"a" * 1_000_000`` used to come
back "in AMIF scope" with a clear objective. :func:`description_problem` recognises such input
from cheap surface statistics (all linear in the length of the text) so that
:meth:`amif_match.Matcher.classify` can say it cannot assess the text instead of guessing.

The rules are deliberately loose: they only catch text that no reader would call a project
description in Finnish, Swedish or English. Short titles, other Latin-script languages and
texts that repeat a real sentence still go to the model.
"""

from __future__ import annotations

import re

__all__ = ["description_problem"]

# Control characters other than whitespace: C0, DEL and C1. Real text has next to none; bytes of
# a binary file decoded as Latin-1 or UTF-8 have about one in ten.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_LETTERS = re.compile(r"[^\W\d_]+")
# Letters of the Latin, Greek and Cyrillic scripts (basic, supplements and extensions). The
# catalogue is Finnish, Swedish and English; Greek and Cyrillic (EU languages) are let through
# because the model is multilingual: such texts are embedded and answered in English, like
# German or French ones, rather than refused.
_SUPPORTED_LETTERS = re.compile(
    "[A-Za-z\u00aa\u00b5\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0250-\u02af"
    "\u0370-\u03ff\u0400-\u052f\u1c80-\u1c8f\u1d00-\u1dbf\u1e00-\u1fff\u2c60-\u2c7f"
    "\u2de0-\u2dff\ua640-\ua69f\ua720-\ua7ff\uab30-\uab6f]+"
)

MAX_CONTROL_SHARE = 0.02  # of non-space characters
MIN_LETTER_SHARE = 0.5  # of non-space characters
MIN_SUPPORTED_SCRIPT_SHARE = 0.5  # of letters
LONGEST_WORD = 40  # letters; longer runs ("aaaa...") are not words
MIN_WORD_LETTER_SHARE = 0.5  # of letters, in runs of at most LONGEST_WORD
REPETITION_MIN_WORDS = 10  # texts this long need ...
REPETITION_MIN_DISTINCT = 3  # ... at least this many different words


def description_problem(text: str) -> str | None:
    """Why ``text`` does not read as a project description, or ``None`` if it may be one.

    ``text`` is the tidied text (HTML removed, whitespace collapsed). The answer is a sentence
    for users, e.g. ``"the text looks like binary data (23% control characters)"``.
    """
    non_space = len(text) - text.count(" ") - text.count("\n")
    if non_space == 0:
        return "the text has no visible characters"
    controls = len(_CONTROL.findall(text))
    if controls > MAX_CONTROL_SHARE * non_space:
        return (
            f"the text looks like binary data ({controls / non_space:.0%} of its characters are "
            "control characters)"
        )
    runs = _LETTERS.findall(text)
    letters = sum(map(len, runs))
    if letters < MIN_LETTER_SHARE * non_space:
        return (
            f"the text has too little alphabetic content (only {letters / non_space:.0%} of its "
            "characters are letters)"
        )
    supported = sum(map(len, _SUPPORTED_LETTERS.findall(text)))
    if supported < MIN_SUPPORTED_SCRIPT_SHARE * letters:
        return (
            f"the text is mostly not in Latin script ({1 - supported / letters:.0%} of its letters "
            "are in other scripts); amif_match assesses Finnish, Swedish and English proposals"
        )
    in_words = sum(len(run) for run in runs if len(run) <= LONGEST_WORD)
    if in_words < MIN_WORD_LETTER_SHARE * letters:
        longest = max(map(len, runs))
        return (
            f"the text has no word structure (a run of {longest:,} letters without a space or "
            "punctuation)"
        )
    if len(runs) >= REPETITION_MIN_WORDS:
        distinct = {run.casefold() for run in runs}
        if len(distinct) < REPETITION_MIN_DISTINCT:
            return (
                f"the text repeats {len(distinct)} word{'s' if len(distinct) > 1 else ''} "
                f"{len(runs):,} times instead of describing a project"
            )
    return None
