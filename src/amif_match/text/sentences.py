"""Sentence splitting tuned for project descriptions (paragraphs, bullets, abbreviations).

Every step is linear in the text length: the shapes that once were quadratic are named where
they are handled.
"""

from __future__ import annotations

import re

from amif_match.text.language import WORD

__all__ = ["split_sentences"]

_ABBREVIATIONS = re.compile(
    r"\b(esim|mm|ks|ns|yms|jne|t\.ex|bl\.a|m\.m|e\.g|i\.e|etc|vs|nr|no|s|n|ca|kl|prof|dr"
    # German, French, Italian: texts in every EU language are split here.
    r"|z\.b|bzw|usw|ggf|inkl|vgl|evtl|ecc|cf)\.$",
    re.IGNORECASE,
)
# Capital letters of the Latin, Greek and Cyrillic scripts (every EU language's alphabet): a
# sentence starts with one of them or a digit.
_CAPITALS = "".join(
    chr(c) for c in (*range(0x41, 0x530), *range(0x1E00, 0x1F00)) if chr(c).isupper()
)
_BOUNDARY = re.compile(r"(?<=[.!?…])\s+(?=[\"'”“„«(\[]?[" + re.escape(_CAPITALS) + "0-9])")
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
    return [s for s in out if WORD.search(s)]
