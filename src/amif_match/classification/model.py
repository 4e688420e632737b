"""Classification of proposals: objectives, target groups, scope, plus the result object.

The model combines two sources of knowledge:

* **zero-shot** — similarity to the catalogue (objective descriptions and the activities under
  each objective, in Finnish, Swedish and English), so it works with no training data;
* **supervised** — logistic-regression heads (:class:`~.heads.EmbeddingClassifier`)
  trained on the corpus projects (their Finnish and English texts) and on the catalogue texts
  labelled by their objective.

Objective probabilities are a geometric blend of the two, ``p ∝ p_sup^w · p_zs^(1-w)``, with the
zero-shot temperature fitted by likelihood and ``w`` chosen by cross-validation. Target groups
are scored by a small logistic calibrator over four signals (supervised logit, document and
best-sentence similarity to the group, and a term match), fitted on out-of-fold predictions;
the decision threshold is tuned by cross-validation for micro-F1. Scope (AMIF or not) is a
binary head trained on corpus and catalogue texts against ``out_of_scope.csv``.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amif_match.classification.heads import EmbeddingClassifier, HeadsError, load_heads, save_heads
from amif_match.corpus import OBJECTIVES
from amif_match.index import CatalogueIndex

__all__ = ["Classification", "ProposalClassifier", "zero_shot_objective_scores"]

ACTIVITY_TOP = 3  # activities averaged per objective in the zero-shot score


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def zero_shot_objective_scores(vectors: np.ndarray, catalogue: CatalogueIndex) -> np.ndarray:
    """Similarity of each row to each objective: its description plus its best activities.

    Returns ``(n, 4)`` scores in :data:`~amif_match.corpus.OBJECTIVES` order. An objective's
    score is the cosine to its description centroid plus the mean cosine to its
    :data:`ACTIVITY_TOP` closest catalogue activities; the activity term makes the score
    sensitive to concrete activities rather than to the wording of one description.
    """
    obj_sims = vectors @ catalogue.objective_vectors.T
    act_sims = vectors @ catalogue.activity_vectors.T
    scores = np.zeros((len(vectors), len(OBJECTIVES)), dtype=np.float32)
    order = {code: i for i, code in enumerate(catalogue.objective_codes)}
    for j, code in enumerate(OBJECTIVES):
        mask = np.array([code in objs for objs in catalogue.activities["objectives"]])
        # An objective with fewer catalogue activities than ACTIVITY_TOP (SO4 has two) averages
        # over those it has, never over the masked-out ones.
        n_top = max(1, min(ACTIVITY_TOP, int(mask.sum())))
        top = np.sort(np.where(mask, act_sims, -1.0), axis=1)[:, -n_top:]
        scores[:, j] = obj_sims[:, order[code]] + top.mean(axis=1)
    return scores


def _fit_temperature(scores: np.ndarray, y_idx: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood of ``softmax(scores / t)``."""
    grid = np.geomspace(0.002, 0.2, 60)
    nll = [-np.log(_softmax(scores / t)[np.arange(len(y_idx)), y_idx] + 1e-12).mean() for t in grid]
    return float(grid[int(np.argmin(nll))])


def _tg_features(
    logits: np.ndarray, doc_sims: np.ndarray, sent_sims: np.ndarray, lexical: np.ndarray
) -> np.ndarray:
    """Stack the four target-group signals into ``(n * T, 4)`` calibrator features."""
    return np.stack([logits, doc_sims, sent_sims, lexical], axis=-1).reshape(-1, 4)


@dataclass
class _Signals:
    """Per-document inputs the heads need."""

    doc: np.ndarray  # (n, d)
    sentences: list[np.ndarray]  # n x (m_i, d)
    texts: list[str]


class ProposalClassifier:
    """All fitted heads behind :meth:`amif_match.Matcher.classify`.

    Args:
        C_objective: Regularisation of the objective head.
        C_target_groups: Regularisation of the target-group heads.
        n_splits: Folds of the internal cross-validation (temperature, blend weight,
            target-group calibration and threshold).
        random_state: Seed of the fold split.

    Learned attributes (after :meth:`fit` or :meth:`load`):
        objective_head_, target_group_head_, scope_head_, fund_head_: the heads.
        temperature_: zero-shot softmax temperature. blend_weight_: ``w`` of the blend.
        tg_calibrator_: coefficients (4) and intercept of the target-group calibrator.
        tg_threshold_: target-group decision threshold. objective_threshold_: probability above
        which a second objective is also selected. scope_threshold_: scope decision threshold.
        training_: description of the training data (counts, fingerprint).
    """

    def __init__(
        self,
        *,
        C_objective: float = 8.0,
        C_target_groups: float = 4.0,
        n_splits: int = 5,
        random_state: int = 0,
    ) -> None:
        self.C_objective = C_objective
        self.C_target_groups = C_target_groups
        self.n_splits = n_splits
        self.random_state = random_state

    # -- training ------------------------------------------------------------------------

    def fit(
        self,
        catalogue: CatalogueIndex,
        project_vectors: dict[str, np.ndarray],
        project_sentences: dict[str, list[np.ndarray]],
        project_texts: dict[str, list[str]],
        objectives: Sequence[str],
        target_groups: Sequence[Sequence[str]],
        *,
        scope_negatives: np.ndarray | None = None,
        scope_funds: Sequence[str] | None = None,
        use_catalogue: bool = True,
    ) -> ProposalClassifier:
        """Fit every head.

        Args:
            catalogue: The embedded catalogue.
            project_vectors: Language code -> ``(n, d)`` document vectors of the projects (one
                entry per language the projects are written in, e.g. ``fi`` and ``en``).
            project_sentences: Language code -> per-project sentence vectors.
            project_texts: Language code -> project texts (for the term matcher).
            objectives: Objective code of each project.
            target_groups: Target-group codes of each project.
            scope_negatives: ``(m, d)`` vectors of texts that are not AMIF proposals.
            scope_funds: Fund each negative resembles (ISF, BMVI, ERDF, ...).
            use_catalogue: Also train the objective head on catalogue texts (the "combined"
                model); ``False`` gives the purely supervised head used as a baseline.
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import KFold

        langs = list(project_vectors)
        y = np.asarray(objectives)
        n = len(y)
        self.use_catalogue_ = use_catalogue
        self.objective_head_ = self._fit_objective_head(catalogue, project_vectors, y, np.arange(n))

        # Out-of-fold predictions for everything tuned on data.
        folds = KFold(min(self.n_splits, n), shuffle=True, random_state=self.random_state)
        oof_sup = {lang: np.zeros((n, len(OBJECTIVES))) for lang in langs}
        tg_labels = [list(t) for t in target_groups]
        tg_codes = catalogue.target_group_codes
        tg_oof_logits = {lang: np.zeros((n, len(tg_codes))) for lang in langs}
        for train, test in folds.split(np.arange(n)):
            head = self._fit_objective_head(catalogue, project_vectors, y, train)
            tg_head = self._fit_tg_head(project_vectors, tg_labels, train)
            for lang in langs:
                oof_sup[lang][test] = self._objective_sup_proba(head, project_vectors[lang][test])
                tg_oof_logits[lang][test] = self._tg_logits(
                    tg_head, project_vectors[lang][test], tg_codes
                )

        y_idx = np.array([OBJECTIVES.index(c) for c in y])
        zs = {
            lang: zero_shot_objective_scores(project_vectors[lang], catalogue.for_language(lang))
            for lang in langs
        }
        self.temperature_ = _fit_temperature(
            np.concatenate(list(zs.values())), np.tile(y_idx, len(langs))
        )
        best = (-np.inf, 1.0)
        for w in (1.0, 0.85, 0.7, 0.5, 0.3, 0.0):
            ll = 0.0
            for lang in langs:
                p = self._blend(oof_sup[lang], _softmax(zs[lang] / self.temperature_), w)
                ll += np.log(p[np.arange(n), y_idx] + 1e-12).mean()
            best = max(best, (ll, w))
        self.blend_weight_ = float(best[1])

        # Second objectives: the corpus is single-label, so this threshold is tuned for
        # precision of the *selected set* on out-of-fold probabilities.
        probs = np.concatenate(
            [
                self._blend(oof_sup[lg], _softmax(zs[lg] / self.temperature_), self.blend_weight_)
                for lg in langs
            ]
        )
        self.objective_threshold_ = _tune_threshold(
            probs,
            np.eye(len(OBJECTIVES))[np.tile(y_idx, len(langs))],
            grid=np.arange(0.3, 0.95, 0.05),
        )

        # Target groups: head on all data, calibrator + threshold on out-of-fold signals.
        self.target_group_head_ = self._fit_tg_head(project_vectors, tg_labels, np.arange(n))
        feats, truth = [], []
        for lang in langs:
            signals = _Signals(project_vectors[lang], project_sentences[lang], project_texts[lang])
            doc_s, sent_s, lex = self._tg_similarity_signals(signals, catalogue.for_language(lang))
            feats.append(_tg_features(tg_oof_logits[lang], doc_s, sent_s, lex))
            truth.append(np.array([[c in labels for c in tg_codes] for labels in tg_labels]))
        X = np.concatenate(feats)
        Y = np.concatenate(truth).reshape(-1)
        cal = LogisticRegression(C=1.0, max_iter=2000).fit(X, Y)
        self.tg_calibrator_ = np.concatenate([cal.coef_[0], cal.intercept_]).astype(np.float32)
        oof_p = _sigmoid(X @ self.tg_calibrator_[:4] + self.tg_calibrator_[4]).reshape(
            -1, len(tg_codes)
        )
        self.tg_threshold_ = _tune_threshold(
            oof_p, np.concatenate(truth).astype(float), grid=np.arange(0.1, 0.8, 0.025)
        )

        # Scope and fund heads.
        self.scope_head_ = None
        self.fund_head_ = None
        self.scope_threshold_ = 0.5
        if scope_negatives is not None and len(scope_negatives):
            positives = np.concatenate(
                [
                    *project_vectors.values(),
                    *[v.reshape(-1, v.shape[-1]) for v in catalogue.language_vectors.values()],
                ]
            )
            Xs = np.concatenate([positives, scope_negatives])
            ys = np.array(["amif"] * len(positives) + ["other"] * len(scope_negatives))
            self.scope_head_ = EmbeddingClassifier(None, C=4.0).fit(Xs, ys)
            if scope_funds is not None and len(set(scope_funds)) > 1:
                self.fund_head_ = EmbeddingClassifier(None, C=4.0).fit(
                    scope_negatives, np.asarray(scope_funds)
                )
        self.training_ = {
            "projects": int(n),
            "languages": langs,
            "catalogue_items": len(catalogue.activities) + len(catalogue.objectives),
            "scope_negatives": 0 if scope_negatives is None else len(scope_negatives),
        }
        return self

    def _fit_objective_head(
        self,
        catalogue: CatalogueIndex,
        project_vectors: dict[str, np.ndarray],
        y: np.ndarray,
        rows: np.ndarray,
    ) -> EmbeddingClassifier:
        X = [v[rows] for v in project_vectors.values()]
        Y = [y[rows] for _ in project_vectors]
        if self.use_catalogue_:
            Xc, Yc = _catalogue_training_rows(catalogue)
            X.append(Xc)
            Y.append(Yc)
        return EmbeddingClassifier(None, C=self.C_objective).fit(
            np.concatenate(X), np.concatenate(Y)
        )

    def _fit_tg_head(
        self, project_vectors: dict[str, np.ndarray], labels: list[list[str]], rows: np.ndarray
    ) -> EmbeddingClassifier:
        X = np.concatenate([v[rows] for v in project_vectors.values()])
        Y = [labels[i] for _ in project_vectors for i in rows]
        return EmbeddingClassifier(None, C=self.C_target_groups, multilabel=True).fit(X, Y)

    @staticmethod
    def _objective_sup_proba(head: EmbeddingClassifier, vectors: np.ndarray) -> np.ndarray:
        proba = head.predict_proba(vectors)
        out = np.full((len(vectors), len(OBJECTIVES)), 1e-6)
        for k, code in enumerate(head.classes_):
            out[:, OBJECTIVES.index(code)] = proba[:, k]
        return out / out.sum(axis=1, keepdims=True)

    @staticmethod
    def _tg_logits(head: EmbeddingClassifier, vectors: np.ndarray, codes: list[str]) -> np.ndarray:
        scores = head.decision_function(vectors)
        out = np.full((len(vectors), len(codes)), -6.0)  # never seen in training: very unlikely
        index = {c: i for i, c in enumerate(codes)}
        for k, code in enumerate(head.classes_):
            if code in index:
                out[:, index[code]] = scores[:, k]
        return out

    @staticmethod
    def _blend(p_sup: np.ndarray, p_zs: np.ndarray, w: float) -> np.ndarray:
        logp = w * np.log(p_sup + 1e-12) + (1 - w) * np.log(p_zs + 1e-12)
        return _softmax(logp)

    @staticmethod
    def _tg_similarity_signals(
        signals: _Signals, catalogue: CatalogueIndex
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tg = catalogue.target_group_vectors
        doc = signals.doc @ tg.T
        sent = np.stack([(s @ tg.T).max(axis=0) for s in signals.sentences])
        lex = np.stack([catalogue.lexical_target_groups(t) for t in signals.texts])
        return doc, sent, lex

    # -- prediction ----------------------------------------------------------------------

    def objective_proba(
        self, vectors: np.ndarray, catalogue: CatalogueIndex, *, mode: str = "combined"
    ) -> np.ndarray:
        """``(n, 4)`` objective probabilities; ``mode`` is combined, supervised or zero-shot."""
        p_zs = _softmax(zero_shot_objective_scores(vectors, catalogue) / self.temperature_)
        if mode == "zero-shot":
            return p_zs
        p_sup = self._objective_sup_proba(self.objective_head_, vectors)
        if mode == "supervised":
            return p_sup
        if mode != "combined":
            raise ValueError(f"mode must be combined, supervised or zero-shot, got {mode!r}")
        return self._blend(p_sup, p_zs, self.blend_weight_)

    def target_group_proba(self, signals: _Signals, catalogue: CatalogueIndex) -> np.ndarray:
        """``(n, T)`` calibrated target-group probabilities."""
        codes = catalogue.target_group_codes
        logits = self._tg_logits(self.target_group_head_, signals.doc, codes)
        doc, sent, lex = self._tg_similarity_signals(signals, catalogue)
        X = _tg_features(logits, doc, sent, lex)
        p = _sigmoid(X @ self.tg_calibrator_[:4] + self.tg_calibrator_[4])
        return p.reshape(len(signals.doc), len(codes))

    def scope_proba(self, vectors: np.ndarray) -> np.ndarray:
        """Probability that each text is an AMIF proposal."""
        if self.scope_head_ is None:
            return np.ones(len(vectors))
        proba = self.scope_head_.predict_proba(vectors)
        return proba[:, list(self.scope_head_.classes_).index("amif")]

    def fund_guess(self, vectors: np.ndarray) -> list[tuple[str, float]]:
        """The non-AMIF fund each text resembles most, with its probability."""
        if self.fund_head_ is None:
            return [("", 0.0)] * len(vectors)
        proba = self.fund_head_.predict_proba(vectors)
        best = proba.argmax(axis=1)
        return [(str(self.fund_head_.classes_[b]), float(proba[i, b])) for i, b in enumerate(best)]

    # -- persistence ---------------------------------------------------------------------

    def save(self, folder: str | os.PathLike[str], meta: dict[str, Any]) -> None:
        """Write the heads as ``heads.npz`` + ``heads.json`` (no pickles)."""
        heads = {"objective": self.objective_head_, "target_groups": self.target_group_head_}
        if self.scope_head_ is not None:
            heads["scope"] = self.scope_head_
        if self.fund_head_ is not None:
            heads["fund"] = self.fund_head_
        params = {
            "temperature": self.temperature_,
            "blend_weight": self.blend_weight_,
            "objective_threshold": self.objective_threshold_,
            "tg_calibrator": [float(x) for x in self.tg_calibrator_],
            "tg_threshold": self.tg_threshold_,
            "scope_threshold": self.scope_threshold_,
            "use_catalogue": self.use_catalogue_,
            "hyperparameters": {
                "C_objective": self.C_objective,
                "C_target_groups": self.C_target_groups,
                "n_splits": self.n_splits,
                "random_state": self.random_state,
            },
            "training": self.training_,
        }
        save_heads(folder, heads, {**meta, "params": params})

    @classmethod
    def load(
        cls, folder: str | os.PathLike[str], *, dim: int | None = None
    ) -> tuple[ProposalClassifier, dict[str, Any]]:
        """Read heads written by :meth:`save`; returns ``(classifier, metadata)``.

        Raises :class:`~amif_match.errors.HeadsError` naming the file for any damage (``dim``:
        the embedding size the heads must have, checked when given).
        """
        heads, meta = load_heads(folder, embedder=None, dim=dim)
        try:
            params = meta["params"]
            model = cls(**params["hyperparameters"])
            model.objective_head_ = heads["objective"]
            model.target_group_head_ = heads["target_groups"]
            model.scope_head_ = heads.get("scope")
            model.fund_head_ = heads.get("fund")
            model.temperature_ = float(params["temperature"])
            model.blend_weight_ = float(params["blend_weight"])
            model.objective_threshold_ = float(params["objective_threshold"])
            model.tg_calibrator_ = np.asarray(params["tg_calibrator"], dtype=np.float32)
            model.tg_threshold_ = float(params["tg_threshold"])
            model.scope_threshold_ = float(params["scope_threshold"])
            model.use_catalogue_ = bool(params["use_catalogue"])
            model.training_ = params["training"]
            numbers = [model.temperature_, model.blend_weight_, model.objective_threshold_]
            numbers += [model.tg_threshold_, model.scope_threshold_, *model.tg_calibrator_]
            if model.tg_calibrator_.ndim != 1 or not np.isfinite(numbers).all():
                raise ValueError("a calibration parameter is NaN, infinite or misshapen")
        except (KeyError, TypeError, ValueError) as exc:  # wrong shape or type in the JSON
            raise HeadsError(
                f"invalid classifier data: {type(exc).__name__}: {exc}",
                file=str(Path(folder) / "heads.json"),
            ) from exc
        return model, meta


def _catalogue_training_rows(catalogue: CatalogueIndex) -> tuple[np.ndarray, np.ndarray]:
    """Per-language catalogue vectors labelled with their objective (single-objective items)."""
    X, Y = [], []
    for i, code in enumerate(catalogue.objective_codes):
        X.append(catalogue.language_vectors["objectives"][i])
        Y.extend([code] * catalogue.language_vectors["objectives"].shape[1])
    for i, objs in enumerate(catalogue.activities["objectives"]):
        if len(objs) == 1:
            X.append(catalogue.language_vectors["activities"][i])
            Y.extend([objs[0]] * catalogue.language_vectors["activities"].shape[1])
    return np.concatenate(X), np.array(Y)


def _tune_threshold(proba: np.ndarray, truth: np.ndarray, *, grid: np.ndarray) -> float:
    """Threshold on ``proba`` maximising micro-F1 against binary ``truth`` (same shape)."""
    best_f1, best_t = -1.0, 0.5
    for t in grid:
        pred = proba >= t
        tp = float((pred & (truth > 0)).sum())
        fp = float((pred & (truth == 0)).sum())
        fn = float((~pred & (truth > 0)).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best_f1:
            best_f1, best_t = f1, float(t)
    return round(best_t, 3)


# ------------------------------------------------------------------------------ results


@dataclass
class Classification:
    """The answer for one proposal. ``to_dict()`` gives the JSON-serialisable service schema.

    Attributes:
        objective: The single best specific objective (``"SO1"`` ... ``"SO4"``).
        objectives: All four objectives, best first: code, name, probability, selected.
        activities: Top catalogue activities: code, layer, objective, name, score.
        target_groups: Target groups, most probable first: code, name, probability, selected
            (all selected ones, then the next best up to ``k``).
        evidence: Sentences of the proposal supporting the selected objectives.
        similar_projects: Closest past projects: id, name, score.
        in_scope: Whether this reads as an AMIF proposal at all; ``scope_score`` its probability.
        resembles: For out-of-scope texts, the fund it looks like (or ``None``).
        language: Language of the input (``fi``, ``sv``, ``en``; ``und`` if none of these).
        model: Embedder name and package version.
        text: The normalised input text (not part of ``to_dict()``).
        scope_reason: ``None`` when the model assessed the text. Otherwise the text does not
            read as a project description (binary data, too few letters, another script, one
            word repeated) and this sentence says why: the text was not assessed, ``in_scope``
            is ``False`` and ``scope_score`` 0.0, the four objectives are at chance (0.25, none
            selected; ``objective`` is then only the first code) and the activity, target-group,
            evidence and similar-project lists are empty.
    """

    objective: str
    objectives: list[dict[str, Any]]
    activities: list[dict[str, Any]]
    target_groups: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    similar_projects: list[dict[str, Any]]
    in_scope: bool
    scope_score: float
    language: str
    model: dict[str, str]
    resembles: dict[str, Any] | None = None
    text: str = field(default="", repr=False)
    scope_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The service schema (plain JSON types only)."""
        return {
            "objective": self.objective,
            "objectives": self.objectives,
            "activities": self.activities,
            "target_groups": self.target_groups,
            "evidence": self.evidence,
            "similar_projects": self.similar_projects,
            "in_scope": self.in_scope,
            "scope_score": self.scope_score,
            "resembles": self.resembles,
            "scope_reason": self.scope_reason,
            "language": self.language,
            "model": self.model,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per label: kind (objective/activity/target_group/similar_project/evidence),
        code, name, score, selected."""
        rows: list[dict[str, Any]] = []
        for o in self.objectives:
            rows.append(
                {
                    "kind": "objective",
                    "code": o["code"],
                    "name": o["name"],
                    "score": o["probability"],
                    "selected": o["selected"],
                }
            )
        for a in self.activities:
            rows.append(
                {
                    "kind": "activity",
                    "code": a["code"],
                    "name": a["name"],
                    "score": a["score"],
                    "selected": None,
                }
            )
        for t in self.target_groups:
            rows.append(
                {
                    "kind": "target_group",
                    "code": t["code"],
                    "name": t["name"],
                    "score": t["probability"],
                    "selected": t["selected"],
                }
            )
        for p in self.similar_projects:
            rows.append(
                {
                    "kind": "similar_project",
                    "code": p["id"],
                    "name": p["name"],
                    "score": p["score"],
                    "selected": None,
                }
            )
        for e in self.evidence:
            rows.append(
                {
                    "kind": "evidence",
                    "code": e["supports"],
                    "name": e["text"],
                    "score": e["score"],
                    "selected": None,
                }
            )
        return pd.DataFrame(rows, columns=["kind", "code", "name", "score", "selected"])

    def _repr_html_(self) -> str:
        esc = html.escape
        scope = "in AMIF scope" if self.in_scope else "NOT in AMIF scope"
        if not self.in_scope and self.resembles:
            scope += f" (resembles {esc(self.resembles['fund'])})"
        if self.scope_reason:
            scope = f"not assessed: {esc(self.scope_reason)}"
        parts = [
            f"<div><b>Objective {esc(self.objective)}</b> · {scope} "
            f"(scope score {self.scope_score:.2f}) · language {esc(self.language)}</div>"
        ]

        def table(title: str, header: list[str], rows: list[list[str]]) -> str:
            head = "".join(f"<th>{esc(h)}</th>" for h in header)
            body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
            return (
                f"<h4>{esc(title)}</h4><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>"
            )

        def mark(selected: bool) -> str:
            return "✔" if selected else ""

        parts.append(
            table(
                "Objectives",
                ["code", "name", "probability", "selected"],
                [
                    [esc(o["code"]), esc(o["name"]), f"{o['probability']:.2f}", mark(o["selected"])]
                    for o in self.objectives
                ],
            )
        )
        parts.append(
            table(
                "Target groups",
                ["code", "name", "probability", "selected"],
                [
                    [esc(t["code"]), esc(t["name"]), f"{t['probability']:.2f}", mark(t["selected"])]
                    for t in self.target_groups
                ],
            )
        )
        parts.append(
            table(
                "Activities",
                ["code", "layer", "objective", "name", "score"],
                [
                    [
                        esc(a["code"]),
                        esc(a["layer"]),
                        esc(a["objective"]),
                        esc(a["name"]),
                        f"{a['score']:.2f}",
                    ]
                    for a in self.activities
                ],
            )
        )
        parts.append(
            table(
                "Evidence",
                ["sentence", "supports", "score"],
                [[esc(e["text"]), esc(e["supports"]), f"{e['score']:.2f}"] for e in self.evidence],
            )
        )
        parts.append(
            table(
                "Similar past projects",
                ["id", "name", "score"],
                [
                    [esc(p["id"]), esc(p["name"]), f"{p['score']:.2f}"]
                    for p in self.similar_projects
                ],
            )
        )
        return "\n".join(parts)


def model_folder(path: str | os.PathLike[str] | None = None) -> Path:
    """Folder of the fitted heads: ``path`` or the bundled ``models/``."""
    if path is not None:
        return Path(path)
    from amif_match._resources import bundled_path

    return bundled_path("models")
