"""Language detection on the corpus: the old stopword guesser against the py3langid detector.

Run from the repository root::

    python benchmarks/bench_language.py

Texts: every project's own-language description (``description``; ``description_fi`` for
Finnish rows) with the ``language`` column as the truth, every English summary (``summary_en``),
and the first 2, 3 and 5 words of each of those (titles and fragments, where the confidence rule
matters). Detectors:

- ``old``: the fi/sv/en stopword guesser used until 0.x (reproduced below as it was);
- ``py3langid``: py3langid restricted to the EU languages, its first choice whatever its
  probability;
- ``py3langid>=0.7``: the same, ``"und"`` below :data:`~amif_match.text.language.MIN_CONFIDENCE`;
- ``detect_language``: what the library ships (the above, plus agreement of the stopword guesser
  for fi/sv/en below the threshold).

Prints Markdown tables (share right / wrong / ``und``) and writes
``benchmarks/results/language.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from amif_match.markdown import markdown_table
from amif_match.text import language as lang_module
from amif_match.text.language import LANGUAGES, MIN_CONFIDENCE, WORD, detect_language

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "language.json"
PREFIXES = (2, 3, 5)


def old_detect_language(text: str) -> str:
    """The detector of amif_match before py3langid (fi/sv/en/und).

    It was today's stopword guess plus two defaults for short ASCII texts, which came after
    every other rule (so only where the stopword guess finds nothing).
    """
    guess = lang_module.stopword_language(text)
    words = [w.lower() for w in WORD.findall(text)]
    if guess != "und" or not words:
        return guess
    scores = [sum(w in stop for w in words) for stop in lang_module._STOPWORDS.values()]
    if sum(w in lang_module._OTHER for w in words) > max(scores):
        return "und"
    fi_suffixes = sum(bool(lang_module._FI_SUFFIX.search(w[-5:])) for w in words)
    if text.isascii() and any(w in lang_module._STOPWORDS["en"] for w in words):
        return "en"
    if text.isascii() and len(words) <= 8:
        return "en" if not fi_suffixes else "fi"
    return "und"


def texts() -> pd.DataFrame:
    """One row per text: ``kind``, ``truth``, ``text``."""
    projects = pd.read_csv(ROOT / "corpus" / "projects.csv", dtype=str, keep_default_na=False)
    rows = []
    for p in projects.itertuples():
        own = p.description_fi if p.language == "fi" and p.description_fi else p.description
        if own:
            rows.append(("description", p.language, own))
        if p.summary_en:
            rows.append(("summary_en", "en", p.summary_en))
    full = pd.DataFrame(rows, columns=["kind", "truth", "text"])
    parts = [full]
    for n in PREFIXES:
        first = full.assign(text=full["text"].map(lambda t, n=n: " ".join(t.split()[:n])))
        parts.append(first.assign(kind=first["kind"] + f" (first {n} words)"))
    return pd.concat(parts, ignore_index=True)


def detectors() -> dict[str, object]:
    identifier = lang_module._identifier()

    def raw(text: str) -> str:
        return identifier.classify(text)[0] if WORD.search(text) else "und"

    def thresholded(text: str) -> str:
        if not WORD.search(text):
            return "und"
        language, confidence = identifier.classify(text)
        return language if confidence >= MIN_CONFIDENCE else "und"

    return {
        "old": old_detect_language,
        "py3langid": raw,
        f"py3langid>={MIN_CONFIDENCE}": thresholded,
        "detect_language": detect_language,
    }


def score(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Share of right, wrong and ``und`` answers per group and detector."""
    frame = frame.assign(
        right=frame["guess"] == frame["truth"],
        und=frame["guess"] == "und",
    )
    frame["wrong"] = ~frame["right"] & ~frame["und"]
    table = (
        frame.groupby([*by, "detector"], sort=False)
        .agg(
            texts=("right", "size"),
            right=("right", "mean"),
            wrong=("wrong", "mean"),
            und=("und", "mean"),
        )
        .reset_index()
    )
    return table.round(3)


def main() -> None:
    data = texts()
    guesses, timings = [], {}
    for name, detect in detectors().items():
        start = time.perf_counter()
        guessed = [detect(t) for t in data["text"]]  # type: ignore[operator]
        timings[name] = round((time.perf_counter() - start) / len(data) * 1000, 3)
        guesses.append(data.assign(detector=name, guess=guessed))
    result = pd.concat(guesses, ignore_index=True)
    overall = score(result, ["kind"])
    full = result[result["kind"] == "description"]
    wide = score(full, ["truth"]).pivot(index="truth", columns="detector", values="right")
    wide.insert(0, "texts", full[full["detector"] == "old"].groupby("truth").size())
    wide = wide.reset_index().sort_values("texts", ascending=False)
    catalogue = result[result["truth"].isin(LANGUAGES)]
    short_catalogue = score(catalogue, ["kind"])
    print("## All texts (share right / wrong / und)\n")
    print(markdown_table(overall))
    print("\n## Own-language descriptions: share right per language\n")
    print(markdown_table(wide[["truth", "texts", *[d for d in detectors()]]]))
    print("\n## Texts in fi/sv/en only\n")
    print(markdown_table(short_catalogue))
    print(f"\nms per text: {timings}")
    RESULTS.write_text(
        json.dumps(
            {
                "min_confidence": MIN_CONFIDENCE,
                "overall": overall.to_dict("records"),
                "descriptions_by_language": wide.to_dict("records"),
                "catalogue_languages": short_catalogue.to_dict("records"),
                "ms_per_text": timings,
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
