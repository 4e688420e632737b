"""Leave-one-country-out quality of the objective estimator.

Each country's projects (``EU``: the Union actions, as one "country") are held out in turn; the
objective estimator is refitted on every other country's projects, exactly as
:meth:`amif_match.Matcher.train` fits it, and scored on the held-out ones. This measures what an
applicant from a country gets from what was funded elsewhere, with no project of their own
country in training.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from amif_match.classification import ObjectiveClassifier
from amif_match.corpus import OBJECTIVES, Corpus
from amif_match.embedding import DEFAULT_EMBEDDER

__all__ = ["TEXTS", "evaluate_countries", "loco_scores"]

#: The text of each held-out project that is scored: its description in its own language (the
#: ``language`` column; Finnish for Finland) and its English summary. They are the two
#: training views of :func:`~amif_match.classification.training.training_signals` (``fi`` is
#: the Finnish description where there is one, else the own-language description).
TEXTS = {"description": "fi", "summary_en": "en"}


def loco_scores(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    """Accuracy, macro-F1 and per-objective F1 of one group of held-out projects.

    The macro-F1 averages over the objectives that occur in the group's labels or predictions:
    most countries have projects of two or three objectives only, and an objective that is
    neither there nor predicted says nothing about the model (counting it as 0 would cap a
    perfect model at 0.5 on a country with two objectives). An objective predicted but absent
    counts as 0, so false predictions still cost. Per-objective F1 is NaN where the objective
    is absent from both.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    present = [c for c in OBJECTIVES if c in set(y_true) | set(y_pred)]
    per = f1_score(y_true, y_pred, labels=list(OBJECTIVES), average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
        ),
        **{
            f"{code}_f1": float(per[i]) if code in present else float("nan")
            for i, code in enumerate(OBJECTIVES)
        },
    }


def _table(predictions: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    rows = []
    for key, group in predictions.groupby(by, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                **dict(zip(by, key, strict=True)),
                "projects": len(group),
                **loco_scores(group["objective"], group["predicted"]),
            }
        )
    return pd.DataFrame(rows)


def evaluate_countries(
    corpus: Corpus | None = None,
    embedder: Any = DEFAULT_EMBEDDER,
    *,
    countries: Sequence[str] | None = None,
    random_state: int = 0,
) -> dict[str, pd.DataFrame]:
    """Leave-one-country-out evaluation of the objective estimator (the production model).

    For each country in ``countries`` (default: every country of the corpus), an
    :class:`~amif_match.classification.ObjectiveClassifier` with the production parameters (the
    objective part of :class:`~amif_match.classification.ProposalClassifier`, whose other
    estimators do not touch the objective) is fitted on the projects of every *other* country
    and scored on the held-out country's projects, on their own-language description and on
    their English summary (:data:`TEXTS`). The embeddings come once from the cache; only the
    heads are refitted per country.

    Returns:
        ``predictions``: one row per (held-out project, text) with the true and predicted
        objective; ``by_country``: accuracy, macro-F1 and per-objective F1 per held-out
        country and text; ``by_language``: the same per ``language`` of the description (and
        ``en`` for the English summaries); ``by_text``: pooled over every held-out project, per
        text (all four objectives occur, so its macro-F1 is over SO1-SO4).
    """
    from amif_match.matcher import Matcher

    matcher = Matcher(corpus, embedder)
    catalogue = matcher.catalogue_
    vectors = matcher.training_signals()["project_vectors"]
    projects = matcher.corpus_.projects
    y = projects["objective"].to_numpy()
    country = projects["country"].to_numpy()
    held = sorted(set(country)) if countries is None else list(countries)
    unknown = sorted(set(held) - set(country))
    if unknown:
        raise ValueError(f"no projects of {unknown} in the corpus")
    rows: list[dict[str, Any]] = []
    for code in held:
        test = country == code
        with warnings.catch_warnings():
            # A training set may lack an objective in an inner fold; sklearn warns about it.
            warnings.simplefilter("ignore")
            model = ObjectiveClassifier(random_state=random_state).fit(
                {lang: v[~test] for lang, v in vectors.items()}, list(y[~test]), catalogue=catalogue
            )
        held_out = projects[test]
        for text, lang in TEXTS.items():
            # As in production, each text meets the catalogue in its own language (Finnish,
            # Swedish, English; language-neutral centroids for the others).
            languages = held_out["language"].to_numpy() if text == "description" else None
            predicted = np.empty(int(test.sum()), dtype=object)
            for language in set(languages) if languages is not None else {lang}:
                rows_of = languages == language if languages is not None else slice(None)
                predicted[rows_of] = model.predict(
                    vectors[lang][test][rows_of], catalogue.for_language(language)
                )
            rows += [
                {
                    "id": pid,
                    "country": code,
                    "language": language if text == "description" else "en",
                    "text": text,
                    "objective": truth,
                    "predicted": pred,
                }
                for pid, language, truth, pred in zip(
                    held_out["id"], held_out["language"], y[test], predicted, strict=True
                )
            ]
    predictions = pd.DataFrame(rows)
    return {
        "predictions": predictions,
        "by_country": _table(predictions, ["country", "text"]),
        "by_language": _table(predictions, ["language", "text"]),
        "by_text": _table(predictions, ["text"]),
    }
