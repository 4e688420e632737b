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
from amif_match.evaluate.metrics import calibration

__all__ = ["CANDIDATES", "TEXTS", "evaluate_countries", "loco_scores"]

#: The text of each held-out project that is scored: its description in its own language (the
#: ``language`` column; Finnish for Finland) and its English summary. They are the two
#: training views of :func:`~amif_match.classification.training.training_signals` (``fi`` is
#: the Finnish description where there is one, else the own-language description).
TEXTS = {"description": "fi", "summary_en": "en"}

#: The objective candidates of the ablation, scored on the same held-out countries. All but
#: the last two are modes of one fitted :class:`ObjectiveClassifier`: ``ensemble`` (the
#: default: calibrated product of the three experts), ``blend`` (the former default),
#: ``supervised`` (class-balanced logistic regression), ``fields`` (the intervention-field
#: route), ``zero-shot``; ``knn`` (similarity-weighted vote of the 15 nearest training
#: projects, class-balanced) and ``adapter`` (a one-hidden-layer network trained on the frozen
#: embeddings, scikit-learn's MLPClassifier) are fitted separately.
CANDIDATES = ("ensemble", "blend", "supervised", "fields", "zero-shot", "knn", "adapter")


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
    ablation: bool = True,
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
        text (all four objectives occur, so its macro-F1 is over SO1-SO4); ``ablation``: every
        candidate of :data:`CANDIDATES` on the same held-out countries (empty with
        ``ablation=False``). Predictions carry the probabilities (``p_SO1`` ...) and the
        ``confidence`` of the top label, for calibration plots.
    """
    from amif_match.matcher import Matcher

    matcher = Matcher(corpus, embedder)
    catalogue = matcher.catalogue_
    signals = matcher.training_signals()  # embeds (or reads from the cache) every text once
    vectors = signals["project_vectors"]
    projects = matcher.corpus_.projects
    y = projects["objective"].to_numpy()
    country = projects["country"].to_numpy()
    held = sorted(set(country)) if countries is None else list(countries)
    unknown = sorted(set(held) - set(country))
    if unknown:
        raise ValueError(f"no projects of {unknown} in the corpus")
    languages = signals["project_languages"]
    activities = [list(a) for a in projects["activities"]]
    rows: list[dict[str, Any]] = []
    for code in held:
        test = country == code
        train = {lang: v[~test] for lang, v in vectors.items()}
        with warnings.catch_warnings():
            # A training set may lack an objective in an inner fold; sklearn warns about it.
            warnings.simplefilter("ignore")
            model = ObjectiveClassifier(random_state=random_state).fit(
                train,
                list(y[~test]),
                catalogue=catalogue,
                activities=[a for a, t in zip(activities, test, strict=True) if not t],
                languages={
                    k: [x for x, t in zip(v, test, strict=True) if not t]
                    for k, v in languages.items()
                },
            )
            others = _other_candidates(train, y[~test]) if ablation else {}
        held_out = projects[test]
        for text, lang in TEXTS.items():
            # As in production, each text meets the catalogue in its own language (Finnish,
            # Swedish, English; language-neutral centroids for the others).
            text_langs = held_out["language"].to_numpy() if text == "description" else None
            X = vectors[lang][test]
            proba = {c: np.zeros((len(X), len(OBJECTIVES))) for c in CANDIDATES[:5]}
            for language in set(text_langs) if text_langs is not None else {lang}:
                rows_of = text_langs == language if text_langs is not None else slice(None)
                view = catalogue.for_language(language or "fi")
                for mode, name in (
                    ("combined", "ensemble"),
                    ("supervised", "supervised"),
                    ("fields", "fields"),
                    ("zero-shot", "zero-shot"),
                    ("blend", "blend"),
                ):
                    proba[name][rows_of] = model.predict_proba(X[rows_of], view, mode=mode)
            for name, other in others.items():
                proba[name] = other(X)
            for i, (pid, language, truth) in enumerate(
                zip(held_out["id"], held_out["language"], y[test], strict=True)
            ):
                for name, table in (
                    proba.items() if ablation else (("ensemble", proba["ensemble"]),)
                ):
                    rows.append(
                        {
                            "id": pid,
                            "country": code,
                            "language": language if text == "description" else "en",
                            "text": text,
                            "candidate": name,
                            "objective": truth,
                            "predicted": OBJECTIVES[int(table[i].argmax())],
                            "confidence": float(table[i].max()),
                            **{f"p_{c}": float(table[i, j]) for j, c in enumerate(OBJECTIVES)},
                        }
                    )
    every = pd.DataFrame(rows)
    predictions = every[every["candidate"] == "ensemble"].drop(columns=["candidate"])
    return {
        "predictions": predictions,
        "by_country": _table(predictions, ["country", "text"]),
        "by_language": _table(predictions, ["language", "text"]),
        "by_text": _table(predictions, ["text"]),
        "ablation": _ablation(every) if ablation else pd.DataFrame(),
    }


def _ablation(every: pd.DataFrame) -> pd.DataFrame:
    """One row per (candidate, text): pooled accuracy, macro-F1, SO3/SO4 F1, the worst
    country's accuracy (countries with at least 6 projects) and the ECE of the top label."""
    rows = []
    for (name, text), group in every.groupby(["candidate", "text"], sort=False):
        scores = loco_scores(group["objective"], group["predicted"])
        big = group.groupby("country").filter(lambda g: len(g) >= 6)
        worst = big.groupby("country").apply(
            lambda g: float((g["objective"] == g["predicted"]).mean()), include_groups=False
        )
        proba = group[[f"p_{c}" for c in OBJECTIVES]].to_numpy()
        rows.append(
            {
                "candidate": name,
                "text": text,
                "accuracy": scores["accuracy"],
                "macro_f1": scores["macro_f1"],
                "SO3_f1": scores["SO3_f1"],
                "SO4_f1": scores["SO4_f1"],
                "worst_country_accuracy": float(worst.min()),
                "ece": calibration(group["objective"].to_numpy(), proba)["ece"],
            }
        )
    order = {c: i for i, c in enumerate(CANDIDATES)}
    frame = pd.DataFrame(rows)
    return frame.sort_values(
        ["text", "candidate"], key=lambda c: c.map(order) if c.name == "candidate" else c
    ).reset_index(drop=True)


def _other_candidates(train: dict[str, np.ndarray], y: np.ndarray) -> dict[str, Any]:
    """The kNN and adapter candidates fitted on the training views (predict: vectors -> proba)."""
    from sklearn.neural_network import MLPClassifier

    X = np.concatenate(list(train.values()))
    labels = np.tile(np.array([OBJECTIVES.index(c) for c in y]), len(train))
    prior = np.maximum(np.bincount(labels, minlength=len(OBJECTIVES)), 1) / len(labels)

    def knn(vectors: np.ndarray, k: int = 15, temperature: float = 0.05) -> np.ndarray:
        sims = vectors @ X.T
        nearest = np.argsort(-sims, axis=1)[:, :k]
        out = np.full((len(vectors), len(OBJECTIVES)), 1e-6)
        for r, idx in enumerate(nearest):
            np.add.at(out[r], labels[idx], np.exp((sims[r, idx] - 1.0) / temperature))
        out /= prior  # class-balanced vote
        return out / out.sum(axis=1, keepdims=True)

    # Oversample the rare objectives: MLPClassifier has no class weights.
    counts = np.bincount(labels, minlength=len(OBJECTIVES))
    rng = np.random.default_rng(0)
    rows = np.concatenate(
        [
            rng.choice(np.flatnonzero(labels == c), counts.max())
            for c in range(len(OBJECTIVES))
            if counts[c]
        ]
    )
    mlp = MLPClassifier((256,), alpha=1e-3, max_iter=300, random_state=0).fit(X[rows], labels[rows])

    def adapter(vectors: np.ndarray) -> np.ndarray:
        out = np.full((len(vectors), len(OBJECTIVES)), 1e-6)
        out[:, mlp.classes_] = mlp.predict_proba(vectors)
        return out / out.sum(axis=1, keepdims=True)

    return {"knn": knn, "adapter": adapter}
