"""The :class:`Matcher` façade and the module-level functions services call.

A Matcher bundles a :class:`~amif_match.corpus.Corpus`, an embedder, the catalogue and project
indexes and the fitted heads. Everything heavy happens once, on first use: embedding the
catalogue and corpus (cached on disk by content hash) and loading the heads from ``models/``.
If the stored heads were trained for another corpus or embedder (e.g. a user-extended corpus)
they are retrained in memory, which takes seconds.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from amif_match.classification import Classification, ProposalClassifier, model_folder
from amif_match.corpus import OBJECTIVES, Corpus
from amif_match.embedding import DEFAULT_EMBEDDER, Embedder, embed_documents, get_embedder
from amif_match.index import CatalogueIndex, ProjectIndex, cached
from amif_match.text import MAX_CHARS, NormalisedText, as_text_list, normalise

__all__ = ["Matcher", "classify", "suggest_partners"]

LAYERS = ("activity_type", "intervention_field", "national_action")


class Matcher:
    """Classify proposals, match catalogue activities and suggest partners.

    Args:
        corpus: The corpus to use (default: the bundled one, :meth:`Corpus.default`).
        embedder: Embedder name or instance (default ``"me5-small"``).
        model_dir: Folder of fitted heads (default: the bundled ``models/``).
        cache_dir: Cache folder for the converted model and the embedding cache.

    Example:
        >>> from amif_match import Matcher
        >>> m = Matcher.default()
        >>> m.classify("Kotoutumiskoulutusta maahanmuuttajanaisille").objective
        'SO2'
    """

    def __init__(
        self,
        corpus: Corpus | None = None,
        embedder: str | Embedder = DEFAULT_EMBEDDER,
        *,
        model_dir: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.corpus = corpus
        self.embedder = embedder
        self.model_dir = model_dir
        self.cache_dir = cache_dir
        self._lock = threading.RLock()

    _default: Matcher | None = None
    _default_lock = threading.Lock()

    @classmethod
    def default(cls) -> Matcher:
        """A process-wide Matcher on the bundled corpus and default model (created once)."""
        with cls._default_lock:
            if cls._default is None:
                cls._default = cls()
            return cls._default

    # -- lazily built state --------------------------------------------------------------

    @cached_property
    def corpus_(self) -> Corpus:
        return self.corpus if self.corpus is not None else Corpus.default()

    @cached_property
    def embedder_(self) -> Embedder:
        if isinstance(self.embedder, str):
            return get_embedder(self.embedder, cache_dir=self.cache_dir)
        return self.embedder

    @cached_property
    def _store(self) -> Embedder:
        """The embedder behind the persistent cache, for catalogue and corpus texts."""
        return cached(self.embedder_, self.cache_dir)

    @cached_property
    def catalogue_(self) -> CatalogueIndex:
        with self._lock:
            return CatalogueIndex.build(self.corpus_, self._store)

    @cached_property
    def projects_(self) -> ProjectIndex:
        with self._lock:
            return ProjectIndex.build(self.corpus_, self._store)

    @cached_property
    def classifier_(self) -> ProposalClassifier:
        with self._lock:
            folder = model_folder(self.model_dir)
            try:
                model, meta = ProposalClassifier.load(folder)
                if (
                    meta.get("embedder") == self.embedder_.name
                    and meta.get("corpus_fingerprint") == self.corpus_.fingerprint
                ):
                    return model
                reason = "they were trained for another corpus or embedder"
            except FileNotFoundError:
                reason = f"none were found in {folder}"
            warnings.warn(
                f"amif_match: training classification heads now because {reason} "
                "(use Matcher.train(save_to=...) to keep them)",
                stacklevel=3,
            )
            return self._fit_classifier()

    def fit(self) -> Matcher:
        """Build everything now (otherwise it happens on first use). Returns ``self``."""
        _ = self.catalogue_, self.projects_, self.classifier_
        return self

    # -- training ------------------------------------------------------------------------

    def training_signals(self) -> dict[str, Any]:
        """Embedded training data: per-language project vectors, sentences and texts."""
        vectors, sentences, texts = {}, {}, {}
        for lang in ("fi", "en"):
            series = self.corpus_.project_texts(lang)
            docs = [normalise(t, language=lang) for t in series]
            vectors[lang], sentences[lang] = embed_documents(self._store, docs)
            texts[lang] = [d.text for d in docs]
        negatives = self.corpus_.out_of_scope
        neg_vectors = (
            embed_documents(self._store, list(negatives["text"]))[0] if len(negatives) else None
        )
        return {
            "project_vectors": vectors,
            "project_sentences": sentences,
            "project_texts": texts,
            "scope_negatives": neg_vectors,
            "scope_funds": list(negatives["resembles"]) if len(negatives) else None,
        }

    def _fit_classifier(self) -> ProposalClassifier:
        signals = self.training_signals()
        return ProposalClassifier().fit(
            self.catalogue_,
            signals["project_vectors"],
            signals["project_sentences"],
            signals["project_texts"],
            list(self.corpus_.projects["objective"]),
            [list(t) for t in self.corpus_.projects["target_groups"]],
            scope_negatives=signals["scope_negatives"],
            scope_funds=signals["scope_funds"],
        )

    def train(self, save_to: str | os.PathLike[str] | None = None) -> Matcher:
        """Retrain the heads on this Matcher's corpus; optionally save them to ``save_to``.

        ``amif-match train`` calls this with the bundled ``models/`` folder.
        """
        from amif_match._version import __version__

        with self._lock:
            model = self._fit_classifier()
            self.__dict__["classifier_"] = model
            if save_to is not None:
                model.save(
                    save_to,
                    {
                        "embedder": self.embedder_.name,
                        "corpus_fingerprint": self.corpus_.fingerprint,
                        "package_version": __version__,
                    },
                )
        return self

    # -- classification ------------------------------------------------------------------

    def classify(
        self,
        text: str,
        *,
        k: int = 10,
        threshold: float | None = None,
        min_labels: int = 1,
        language: str | None = None,
        max_chars: int = MAX_CHARS,
    ) -> Classification:
        """Classify one proposal (Finnish, Swedish or English; plain text or HTML).

        Args:
            text: The proposal: a title, a paragraph or a whole application.
            k: Number of activities, target groups (at most), evidence sentences and similar
                projects to return.
            threshold: Probability at or above which a target group or an extra objective is
                selected (default: the thresholds tuned by cross-validation).
            min_labels: At least this many objectives and target groups are selected even if
                below the threshold; ``0`` allows an empty target-group set.
            language: Force ``"fi"``, ``"sv"`` or ``"en"`` instead of detecting it.
            max_chars: Longest accepted text.
        """
        return self.classify_batch(
            [text],
            k=k,
            threshold=threshold,
            min_labels=min_labels,
            language=language,
            max_chars=max_chars,
        )[0]

    def classify_batch(
        self,
        texts: Sequence[str],
        *,
        k: int = 10,
        threshold: float | None = None,
        min_labels: int = 1,
        language: str | None = None,
        max_chars: int = MAX_CHARS,
        show_progress_bar: bool | None = None,
    ) -> list[Classification]:
        """Classify many proposals in one embedding pass; results keep the input order.

        Texts that do not read as a project description (see
        :attr:`Classification.scope_reason`) are not sent to the model.
        """
        _check_options(k=k, threshold=threshold, min_labels=min_labels)
        items, _ = as_text_list(texts)
        if not items:
            raise ValueError("expected at least one text, got an empty list")
        docs = [
            normalise(
                t, language=language, max_chars=max_chars, position=i if len(items) > 1 else None
            )
            for i, t in enumerate(items)
        ]
        results: list[Classification | None] = [
            None if doc.problem is None else self._not_assessed(doc) for doc in docs
        ]
        assess = [i for i, doc in enumerate(docs) if doc.problem is None]
        if assess:
            self.fit()
            doc_vecs, sent_vecs = embed_documents(
                self.embedder_, [docs[i] for i in assess], show_progress_bar=show_progress_bar
            )
            assessed = self._classify_vectors(
                [docs[i] for i in assess],
                doc_vecs,
                sent_vecs,
                k=k,
                threshold=threshold,
                min_labels=min_labels,
            )
            for i, result in zip(assess, assessed, strict=True):
                results[i] = result
        return [r for r in results if r is not None]

    def _not_assessed(self, doc: NormalisedText) -> Classification:
        """The answer for a text that is not a project description: no labels, no scores.

        The model would map such a text to some vector and answer with confident-looking
        probabilities, so it is not asked; the objectives are reported at chance.
        """
        from amif_match._version import __version__

        lang = doc.language if doc.language in ("fi", "sv", "en") else "en"
        chance = round(1.0 / len(OBJECTIVES), 4)
        return Classification(
            objective=OBJECTIVES[0],
            objectives=[
                {
                    "code": code,
                    "name": self._names["objectives"][code][lang],
                    "probability": chance,
                    "selected": False,
                }
                for code in OBJECTIVES
            ],
            activities=[],
            target_groups=[],
            evidence=[],
            similar_projects=[],
            in_scope=False,
            scope_score=0.0,
            resembles=None,
            language=doc.language,
            model={"embedder": self.embedder_.name, "version": __version__},
            text=doc.text,
            scope_reason=doc.problem,
        )

    def _classify_vectors(
        self,
        docs: list[NormalisedText],
        doc_vecs: np.ndarray,
        sent_vecs: list[np.ndarray],
        *,
        k: int,
        threshold: float | None,
        min_labels: int,
    ) -> list[Classification]:
        from amif_match._version import __version__
        from amif_match.classification.model import _Signals

        model = self.classifier_
        cat = self.catalogue_
        n = len(docs)
        obj_p = np.zeros((n, len(OBJECTIVES)))
        tg_p = np.zeros((n, len(cat.target_group_codes)))
        act_scores = np.zeros((n, len(cat.activity_codes)))
        for lang in {d.language for d in docs}:
            # Each language is compared with the catalogue texts of that language.
            idx = [i for i, d in enumerate(docs) if d.language == lang]
            view = cat.for_language(lang)
            sents = [sent_vecs[i] for i in idx]
            obj_p[idx] = model.objective_proba(doc_vecs[idx], view)
            tg_p[idx] = model.target_group_proba(
                _Signals(doc_vecs[idx], sents, [docs[i].text for i in idx]), view
            )
            act_scores[idx] = self._activity_scores(doc_vecs[idx], sents, view)
        scope = model.scope_proba(doc_vecs)
        funds = model.fund_guess(doc_vecs)
        names = self._names
        obj_t = model.objective_threshold_ if threshold is None else threshold
        tg_t = model.tg_threshold_ if threshold is None else threshold
        results = []
        for i, doc in enumerate(docs):
            lang = doc.language if doc.language in ("fi", "sv", "en") else "en"
            order = np.argsort(-obj_p[i])
            selected_obj = {
                OBJECTIVES[j]
                for rank, j in enumerate(order)
                if obj_p[i, j] >= obj_t or rank < max(min_labels, 1)
            }
            objectives = [
                {
                    "code": OBJECTIVES[j],
                    "name": names["objectives"][OBJECTIVES[j]][lang],
                    "probability": round(float(obj_p[i, j]), 4),
                    "selected": OBJECTIVES[j] in selected_obj,
                }
                for j in order
            ]
            tg_order = np.argsort(-tg_p[i])
            chosen = [
                j for rank, j in enumerate(tg_order) if tg_p[i, j] >= tg_t or rank < min_labels
            ]
            shown = chosen + [j for j in tg_order if j not in chosen][: max(0, k - len(chosen))]
            target_groups = [
                {
                    "code": cat.target_group_codes[j],
                    "name": names["target_groups"][cat.target_group_codes[j]][lang],
                    "probability": round(float(tg_p[i, j]), 4),
                    "selected": j in chosen,
                }
                for j in shown
            ]
            activities = self._top_activities(act_scores[i], obj_p[i], k, lang)
            evidence = self._evidence(
                doc, sent_vecs[i], [o for o in OBJECTIVES if o in selected_obj], k
            )
            similar = self.projects_.similar(doc_vecs[i], k=k)
            in_scope = bool(scope[i] >= model.scope_threshold_)
            fund, fund_p = funds[i]
            results.append(
                Classification(
                    objective=OBJECTIVES[int(order[0])],
                    objectives=objectives,
                    activities=activities,
                    target_groups=target_groups,
                    evidence=evidence,
                    similar_projects=[
                        {"id": r.id, "name": r.name, "score": round(float(r.score), 4)}
                        for r in similar.itertuples()
                    ],
                    in_scope=in_scope,
                    scope_score=round(float(scope[i]), 4),
                    resembles=None
                    if in_scope or not fund
                    else {"fund": fund, "probability": round(fund_p, 4)},
                    language=doc.language,
                    model={"embedder": self.embedder_.name, "version": __version__},
                    text=doc.text,
                )
            )
        return results

    def classify_many(self, texts: Sequence[str] | pd.Series, **options: Any) -> pd.DataFrame:
        """Classify a batch; one row per text, in input order (index kept for a Series).

        Columns: objective, probability, SO1..SO4 probabilities, target_groups (selected
        codes), activities (top codes), in_scope, scope_score, language.
        """
        index = texts.index if isinstance(texts, pd.Series) else None
        items, _ = as_text_list(texts)  # refuses mappings and DataFrames with a clear TypeError
        results = self.classify_batch(items, **options)
        rows = []
        for r in results:
            probs = {o["code"]: o["probability"] for o in r.objectives}
            rows.append(
                {
                    "objective": r.objective,
                    "probability": probs[r.objective],
                    **{code: probs[code] for code in OBJECTIVES},
                    "target_groups": [t["code"] for t in r.target_groups if t["selected"]],
                    "activities": [a["code"] for a in r.activities[:3]],
                    "in_scope": r.in_scope,
                    "scope_score": r.scope_score,
                    "language": r.language,
                }
            )
        return pd.DataFrame(rows, index=index)

    # -- activities ----------------------------------------------------------------------

    @staticmethod
    def _activity_scores(
        doc_vecs: np.ndarray, sent_vecs: list[np.ndarray], catalogue: CatalogueIndex
    ) -> np.ndarray:
        """Half document similarity, half best-sentence similarity, per catalogue activity."""
        acts = catalogue.activity_vectors
        doc = doc_vecs @ acts.T
        best_sentence = np.stack([(s @ acts.T).max(axis=0) for s in sent_vecs])
        return 0.5 * doc + 0.5 * best_sentence

    def _top_activities(
        self, scores: np.ndarray, obj_p: np.ndarray, k: int, lang: str, layer: str | None = None
    ) -> list[dict[str, Any]]:
        cat = self.catalogue_
        layers, objectives = self._activity_meta
        out = []
        for j in np.argsort(-scores):
            if layer is not None and layers[j] != layer:
                continue
            objs = objectives[j]
            best_obj = max(objs, key=lambda o: obj_p[OBJECTIVES.index(o)])
            code = cat.activity_codes[j]
            out.append(
                {
                    "code": code,
                    "layer": layers[j],
                    "objective": best_obj,
                    "name": self._names["activities"][code][lang],
                    "score": round(float(scores[j]), 4),
                }
            )
            if len(out) == k:
                break
        return out

    @cached_property
    def _activity_meta(self) -> tuple[list[str], list[list[str]]]:
        acts = self.catalogue_.activities
        return list(acts["layer"]), list(acts["objectives"])

    def match_activities(
        self, text: str, k: int = 10, *, layer: str | None = None, language: str | None = None
    ) -> pd.DataFrame:
        """The ``k`` catalogue activities closest to ``text``, best first.

        Args:
            layer: Only ``activity_type``, ``intervention_field`` or ``national_action`` items.
        """
        _check_options(k=k)
        if layer is not None and layer not in LAYERS:
            raise ValueError(f"layer must be one of {', '.join(LAYERS)}, got {layer!r}")
        doc = normalise(text, language=language)
        self.fit()
        doc_vecs, sent_vecs = embed_documents(self.embedder_, [doc])
        view = self.catalogue_.for_language(doc.language)
        obj_p = self.classifier_.objective_proba(doc_vecs, view)[0]
        lang = doc.language if doc.language in ("fi", "sv", "en") else "en"
        rows = self._top_activities(
            self._activity_scores(doc_vecs, sent_vecs, view)[0], obj_p, k, lang, layer
        )
        frame = pd.DataFrame(rows, columns=["code", "layer", "objective", "name", "score"])
        frame.insert(0, "rank", range(1, len(frame) + 1))
        return frame

    # -- evidence ------------------------------------------------------------------------

    def _evidence(
        self, doc: NormalisedText, sentences: np.ndarray, selected: list[str], k: int
    ) -> list[dict[str, Any]]:
        """Sentences ranked by how strongly each supports a selected objective.

        A sentence that occurs more than once (repeated paragraphs, boilerplate; compared
        ignoring case) is listed once, with its best score: copies would only crowd out other
        evidence.
        """
        units = _units(doc)
        proba = self.classifier_.objective_proba(
            sentences, self.catalogue_.for_language(doc.language)
        )
        rows = []
        for i, sentence in enumerate(units):
            j = max((OBJECTIVES.index(o) for o in selected), key=lambda c: proba[i, c])
            rows.append(
                {"text": sentence, "supports": OBJECTIVES[j], "score": round(float(proba[i, j]), 4)}
            )
        rows.sort(key=lambda r: -r["score"])  # stable: equal scores keep the text order
        evidence: list[dict[str, Any]] = []
        seen: set[str] = set()
        for row in rows:
            key = row["text"].casefold()
            if key not in seen:
                seen.add(key)
                evidence.append(row)
                if len(evidence) == k:
                    break
        return evidence

    # -- partners ------------------------------------------------------------------------

    def suggest_partners(
        self,
        text: str,
        k: int = 10,
        *,
        applicant: str | None = None,
        org_types: Sequence[str] | None = None,
        region: str | Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
        **options: Any,
    ) -> pd.DataFrame:
        """Organisations with the most relevant past AMIF work for this proposal, best first.

        Args:
            text: The proposal.
            k: Number of organisations.
            applicant: The applying organisation (id, name or alias; unknown names are fine).
                It is never suggested; its past partners raise network scores.
            org_types: Only these organisation types (e.g. ``["ngo", "municipality"]``).
            region: Only organisations in this region (or regions); add ``"nationwide"`` to
                keep national bodies.
            exclude: Organisations never to suggest (ids, names or aliases).
            **options: ``consortium`` (partners already on board), ``complement=True``
                (favour types the consortium lacks), ``applicant_type``, ``newcomers``.

        See :class:`amif_match.partners.PartnerRecommender` for the scoring and the columns.
        """
        from amif_match.partners import fitted_recommender

        doc = normalise(text)
        self.fit()
        # Fitted once per (corpus fingerprint, embedder) and shared; profiles are cached on disk.
        recommender = fitted_recommender(self.corpus_, self.embedder_)
        query = embed_documents(self.embedder_, [doc])[0][0]
        return recommender.suggest(
            query,
            k=k,
            applicant=applicant,
            org_types=org_types,
            region=region,
            exclude=exclude,
            **options,
        )

    # -- catalogue views (BERTopic-style get_* returning DataFrames) ------------------------

    def get_objectives(self) -> pd.DataFrame:
        """The four specific objectives."""
        return self.corpus_.objectives.copy()

    def get_activities(self, layer: str | None = None) -> pd.DataFrame:
        """The activity catalogue, optionally one layer."""
        frame = self.corpus_.activities
        return (frame if layer is None else frame[frame["layer"] == layer]).copy()

    def get_target_groups(self) -> pd.DataFrame:
        """The target-group vocabulary."""
        return self.corpus_.target_groups.copy()

    @cached_property
    def _names(self) -> dict[str, dict[str, dict[str, str]]]:
        """Localised display names: table -> code -> language -> name."""
        out: dict[str, dict[str, dict[str, str]]] = {}
        for table, field_ in (
            ("objectives", "name"),
            ("activities", "name"),
            ("target_groups", "term"),
        ):
            frame = getattr(self.corpus_, table)
            out[table] = {
                row["code"]: {
                    lang: row.get(f"{field_}_{lang}") or row[f"{field_}_en"]
                    for lang in ("fi", "sv", "en")
                }
                for row in frame.to_dict("records")
            }
        return out

    def __repr__(self) -> str:
        name = self.embedder if isinstance(self.embedder, str) else self.embedder.name
        return f"Matcher(embedder={name!r}, corpus={self.corpus_!r})"


def _units(doc: NormalisedText) -> list[str]:
    from amif_match.embedding import passages

    return passages(list(doc.sentences), 1000)


def _check_options(*, k: int = 1, threshold: float | None = None, min_labels: int = 0) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if threshold is not None and not (
        isinstance(threshold, int | float) and 0.0 <= threshold <= 1.0
    ):
        raise ValueError(f"threshold must be a number between 0 and 1, got {threshold!r}")
    if not isinstance(min_labels, int) or isinstance(min_labels, bool) or min_labels < 0:
        raise ValueError(f"min_labels must be a non-negative integer, got {min_labels!r}")


def classify(text_or_texts: str | Sequence[str] | pd.Series, **options: Any) -> Any:
    """Classify with the default :class:`Matcher`; JSON-ready output for services.

    A ``str`` gives one ``dict`` (the schema of :meth:`Classification.to_dict`); a list or a
    pandas Series gives a list of dicts in the same order. Options are those of
    :meth:`Matcher.classify` (``k``, ``threshold``, ``min_labels``, ``language``, ...).
    """
    items, single = as_text_list(text_or_texts)
    results = Matcher.default().classify_batch(items, **options)
    dicts = [r.to_dict() for r in results]
    return dicts[0] if single else dicts


def suggest_partners(text: str, k: int = 10, **options: Any) -> list[dict[str, Any]]:
    """Partner suggestions from the default :class:`Matcher` as JSON-safe dicts, best first.

    Options are those of :meth:`Matcher.suggest_partners`.
    """
    from amif_match.partners import to_records

    return to_records(Matcher.default().suggest_partners(text, k, **options))
