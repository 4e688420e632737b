"""From embedded proposals to :class:`~.results.Classification` objects.

:class:`ResultAssembler` holds the fitted parts a classification needs (the
:class:`~.proposal.ProposalClassifier`, the catalogue and project indexes, the activity ranker
and the localised display names) and turns normalised texts plus their vectors into results.
The :class:`~amif_match.matcher.Matcher` owns and builds those parts; this module only uses
them, so the façade stays a façade.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from amif_match.classification.activities import ActivityRanker
from amif_match.classification.answers import (
    evidence_rows,
    label_rows,
    not_assessed,
    selected_objectives,
)
from amif_match.classification.proposal import ProposalClassifier
from amif_match.classification.results import Classification
from amif_match.classification.signals import Signals
from amif_match.corpus import OBJECTIVES, Corpus
from amif_match.embedding import MAX_PASSAGES, Embedder, embed_documents, passages

if TYPE_CHECKING:  # pragma: no cover
    from amif_match.index import CatalogueIndex, ProjectIndex
    from amif_match.text import NormalisedText

__all__ = ["DisplayNames", "ResultAssembler", "summary_row", "units"]

#: Tables with display names, and the column that holds them.
_NAME_FIELDS = (("objectives", "name"), ("activities", "name"), ("target_groups", "term"))


@dataclass(frozen=True)
class DisplayNames:
    """Localised display names: table -> code -> language -> name."""

    names: Mapping[str, Mapping[str, Mapping[str, str]]]

    @classmethod
    def from_corpus(cls, corpus: Corpus) -> DisplayNames:
        out: dict[str, dict[str, dict[str, str]]] = {}
        for table, column in _NAME_FIELDS:
            out[table] = {
                row["code"]: {
                    lang: row.get(f"{column}_{lang}") or row[f"{column}_en"]
                    for lang in ("fi", "sv", "en")
                }
                for row in getattr(corpus, table).to_dict("records")
            }
        return cls(out)

    def localised(self, table: str, language: str) -> dict[str, str]:
        """Code -> display name in ``language`` (English for a language without names)."""
        lang = language if language in ("fi", "sv", "en") else "en"
        return {code: names[lang] for code, names in self.names[table].items()}


def units(doc: NormalisedText) -> list[str]:
    """The passages :func:`~amif_match.embedding.embed_documents` embeds for ``doc``.

    Evidence rows are matched to sentence vectors by position, so they must be cut the same way.
    """
    return passages(list(doc.sentences), MAX_PASSAGES)


@dataclass
class ResultAssembler:
    """Builds classification results from the fitted parts of a Matcher."""

    classifier: ProposalClassifier
    catalogue: CatalogueIndex
    projects: ProjectIndex
    activities: ActivityRanker
    names: DisplayNames
    model_info: dict[str, str] = field(default_factory=dict)

    def not_assessed(self, doc: NormalisedText) -> Classification:
        """The answer for a text that is not a project description."""
        names = self.names.localised("objectives", doc.language)
        return not_assessed(doc.text, doc.language, doc.problem, names, self.model_info)

    def classify_documents(
        self,
        docs: list[NormalisedText],
        embedder: Embedder,
        *,
        k: int,
        threshold: float | None,
        min_labels: int,
        show_progress_bar: bool | None = None,
    ) -> list[Classification]:
        """Classify normalised texts in one embedding pass; results keep the input order.

        Texts that do not read as a project description are answered without the model.
        """
        results: list[Classification | None] = [
            None if doc.problem is None else self.not_assessed(doc) for doc in docs
        ]
        assess = [i for i, doc in enumerate(docs) if doc.problem is None]
        if assess:
            doc_vecs, sent_vecs = embed_documents(
                embedder, [docs[i] for i in assess], show_progress_bar=show_progress_bar
            )
            assessed = self.results(
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

    def probabilities(
        self, docs: list[NormalisedText], doc_vecs: np.ndarray, sent_vecs: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Objective and target-group probabilities and activity scores, one row per text."""
        cat = self.catalogue
        n = len(docs)
        obj_p = np.zeros((n, len(OBJECTIVES)))
        tg_p = np.zeros((n, len(cat.target_group_codes)))
        act_scores = np.zeros((n, len(cat.activity_codes)))
        for lang in {d.language for d in docs}:
            # Each language is compared with the catalogue texts of that language.
            idx = [i for i, d in enumerate(docs) if d.language == lang]
            view = cat.for_language(lang)
            sents = [sent_vecs[i] for i in idx]
            obj_p[idx] = self.classifier.objective_proba(doc_vecs[idx], view)
            tg_p[idx] = self.classifier.target_group_proba(
                Signals(doc_vecs[idx], sents, [docs[i].text for i in idx]), view
            )
            act_scores[idx] = self.activities.score(doc_vecs[idx], sents, view, obj_p[idx])
        return obj_p, tg_p, act_scores

    def results(
        self,
        docs: list[NormalisedText],
        doc_vecs: np.ndarray,
        sent_vecs: list[np.ndarray],
        *,
        k: int,
        threshold: float | None,
        min_labels: int,
    ) -> list[Classification]:
        """One :class:`Classification` per text, in order."""
        model = self.classifier
        obj_p, tg_p, act_scores = self.probabilities(docs, doc_vecs, sent_vecs)
        scope = model.scope_proba(doc_vecs)
        funds = model.fund_guess(doc_vecs)
        obj_t = model.objective_.threshold_ if threshold is None else threshold
        tg_t = model.target_groups_.threshold_ if threshold is None else threshold
        table = self.projects.projects
        countries = table["country"] if "country" in table else [""] * len(table)
        # Projects a user added without a country column have none: "" rather than NaN.
        project_country = {
            pid: c if isinstance(c, str) else ""
            for pid, c in zip(table["id"], countries, strict=True)
        }
        results = []
        for i, doc in enumerate(docs):
            objectives = label_rows(
                obj_p[i],
                OBJECTIVES,
                self.names.localised("objectives", doc.language),
                threshold=obj_t,
                min_labels=max(min_labels, 1),  # the best objective is always selected
            )
            target_groups = label_rows(
                tg_p[i],
                self.catalogue.target_group_codes,
                self.names.localised("target_groups", doc.language),
                threshold=tg_t,
                min_labels=min_labels,
                k=k,
            )
            activities = self.activities.top(
                act_scores[i],
                obj_p[i],
                k,
                names=self.names.localised("activities", doc.language),
            )
            evidence = self.evidence(doc, sent_vecs[i], selected_objectives(objectives), k)
            similar = self.projects.similar(doc_vecs[i], k=k)
            in_scope = bool(scope[i] >= model.scope_.threshold_)
            fund, fund_p = funds[i]
            results.append(
                Classification(
                    objective=objectives[0]["code"],
                    objectives=objectives,
                    activities=activities,
                    target_groups=target_groups,
                    evidence=evidence,
                    # Similar projects come from every country and show it: what was done
                    # elsewhere is useful to every applicant.
                    similar_projects=[
                        {
                            "id": r.id,
                            "name": r.name,
                            "country": project_country.get(r.id, ""),
                            "score": round(float(r.score), 4),
                        }
                        for r in similar.itertuples()
                    ],
                    in_scope=in_scope,
                    scope_score=round(float(scope[i]), 4),
                    resembles=None
                    if in_scope or not fund
                    else {"fund": fund, "probability": round(fund_p, 4)},
                    language=doc.language,
                    model=self.model_info,
                    text=doc.text,
                )
            )
        return results

    def evidence(
        self, doc: NormalisedText, sentences: np.ndarray, selected: list[str], k: int
    ) -> list[dict[str, Any]]:
        """Sentences ranked by how strongly each supports a selected objective."""
        view = self.catalogue.for_language(doc.language)
        return evidence_rows(
            units(doc), self.classifier.objective_proba(sentences, view), selected, k
        )

    def activity_frame(
        self,
        doc: NormalisedText,
        doc_vecs: np.ndarray,
        sent_vecs: list[np.ndarray],
        *,
        k: int,
        layer: str | None,
    ) -> pd.DataFrame:
        """The ``k`` best catalogue activities for one text, as a ranked DataFrame."""
        view = self.catalogue.for_language(doc.language)
        obj_p = self.classifier.objective_proba(doc_vecs, view)[0]
        scores = self.activities.score(doc_vecs, sent_vecs, view, obj_p[None, :])[0]
        names = self.names.localised("activities", doc.language)
        rows = self.activities.top(scores, obj_p, k, names=names, layer=layer)
        frame = pd.DataFrame(rows, columns=["code", "layer", "objective", "name", "score"])
        frame.insert(0, "rank", range(1, len(frame) + 1))
        return frame


def summary_row(result: Classification) -> dict[str, Any]:
    """One row of :meth:`~amif_match.matcher.Matcher.classify_many`."""
    probs = {o["code"]: o["probability"] for o in result.objectives}
    return {
        "objective": result.objective,
        "probability": probs[result.objective],
        **{code: probs[code] for code in OBJECTIVES},
        "target_groups": [t["code"] for t in result.target_groups if t["selected"]],
        "activities": [a["code"] for a in result.activities[:3]],
        "in_scope": result.in_scope,
        "scope_score": result.scope_score,
        "language": result.language,
    }
