"""Training data for the classification heads, embedded from a corpus.

Project texts are embedded per language (Finnish descriptions and English summaries) with their
sentences; the out-of-scope texts become the scope head's negatives.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from amif_match.classification.proposal import ProposalClassifier
from amif_match.corpus import Corpus
from amif_match.embedding import Embedder, embed_documents
from amif_match.text import normalise

if TYPE_CHECKING:  # pragma: no cover
    from amif_match.feedback import FeedbackRecord
    from amif_match.index import CatalogueIndex

__all__ = ["fit_proposal_classifier", "load_or_fit", "save_classifier", "training_signals"]


def training_signals(corpus: Corpus, store: Embedder) -> dict[str, Any]:
    """Embedded training data: per-language project vectors, sentences and texts."""
    vectors, sentences, texts = {}, {}, {}
    for lang in ("fi", "en"):
        series = corpus.project_texts(lang)
        docs = [normalise(t, language=lang) for t in series]
        vectors[lang], sentences[lang] = embed_documents(store, docs)
        texts[lang] = [d.text for d in docs]
    negatives = corpus.out_of_scope
    neg_vectors = embed_documents(store, list(negatives["text"]))[0] if len(negatives) else None
    # Finnish rows keep description_fi; every other row's description is in its `language`.
    own = [lang or "fi" for lang in corpus.projects.get("language", [""] * len(corpus.projects))]
    return {
        "project_languages": {"fi": own, "en": ["en"] * len(own)},
        "scope_languages": list(negatives["language"]) if len(negatives) else None,
        "project_vectors": vectors,
        "project_sentences": sentences,
        "project_texts": texts,
        "scope_negatives": neg_vectors,
        "scope_funds": list(negatives["resembles"]) if len(negatives) else None,
        "scope_migration": _migration_flags(negatives),
        "project_activities": [list(codes) for codes in corpus.projects["activities"]],
    }


def _migration_flags(negatives: Any) -> list[bool] | None:
    """``migration_related`` of each negative; ``None`` (one-stage scope) when no row has it.

    A row without the flag counts as not about migration: the first stage then learns it as
    an ordinary counter-example, as the one-stage model did.
    """
    if not len(negatives) or "migration_related" not in negatives:
        return None
    flags = negatives["migration_related"]
    if flags.isna().all():
        return None
    return [
        bool(v) if isinstance(v, bool | int) else str(v).strip().lower() == "true"
        for v in flags.fillna(False)
    ]


def fit_proposal_classifier(
    corpus: Corpus,
    store: Embedder,
    catalogue: CatalogueIndex,
    feedback: Sequence[FeedbackRecord] = (),
) -> ProposalClassifier:
    """A :class:`ProposalClassifier` fitted on ``corpus``'s projects and negatives and, as more
    projects, the officers' corrections in ``feedback`` (see :mod:`amif_match.feedback`)."""
    signals = training_signals(corpus, store)
    objectives = list(corpus.projects["objective"])
    groups = [list(t) for t in corpus.projects["target_groups"]]
    if feedback:
        from amif_match.feedback.training import add_feedback

        signals, objectives, groups = add_feedback(signals, objectives, groups, feedback, store)
    model = ProposalClassifier().fit(
        catalogue,
        signals["project_vectors"],
        signals["project_sentences"],
        signals["project_texts"],
        objectives,
        groups,
        scope_negatives=signals["scope_negatives"],
        scope_funds=signals["scope_funds"],
        project_languages=signals["project_languages"],
        scope_languages=signals["scope_languages"],
        activities=signals["project_activities"],
        scope_migration=signals["scope_migration"],
    )
    if feedback:
        model.training_["feedback"] = len(feedback)
    return model


def load_or_fit(
    folder: str | os.PathLike[str],
    embedder: str,
    corpus_fingerprint: str,
    fit: Callable[[], ProposalClassifier],
) -> ProposalClassifier:
    """The heads stored in ``folder`` if they fit this embedder and corpus, else ``fit()``.

    Retraining (seconds) is announced with a warning, since it happens on every start until
    the new heads are saved.
    """
    try:
        model, meta = ProposalClassifier.load(folder)
        if (
            meta.get("embedder") == embedder
            and meta.get("corpus_fingerprint") == corpus_fingerprint
        ):
            return model
        reason = "they were trained for another corpus or embedder"
    except FileNotFoundError:
        reason = f"none were found in {folder}"
    warnings.warn(
        f"amif_match: training classification heads now because {reason} "
        "(use Matcher.train(save_to=...) to keep them)",
        stacklevel=4,
    )
    return fit()


def save_classifier(
    model: ProposalClassifier,
    folder: str | os.PathLike[str],
    embedder: str,
    corpus_fingerprint: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """Save ``model`` with the metadata :func:`load_or_fit` checks (and ``extra``, e.g. what
    feedback the heads were trained with)."""
    from amif_match._version import __version__

    model.save(
        folder,
        {
            "embedder": embedder,
            "corpus_fingerprint": corpus_fingerprint,
            "package_version": __version__,
            **(extra or {}),
        },
    )
