"""A fitted :class:`PartnerRecommender` from a corpus and an embedder, and the one-call
:func:`suggest_partners_for_text`.

:class:`~amif_match.matcher.Matcher` owns the fitted recommender it serves with (its
``partners_``); these helpers are for scripts that work without a Matcher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from amif_match.corpus import Corpus
from amif_match.partners.query import PartnerQuery
from amif_match.partners.recommender import PartnerRecommender
from amif_match.partners.registry import organisation_texts

if TYPE_CHECKING:  # pragma: no cover
    from amif_match.embedding import Embedder

__all__ = ["fit_recommender", "suggest_partners_for_text"]


def fit_recommender(
    corpus: Corpus,
    store: Embedder,
    project_vectors: np.ndarray | None = None,
    params: dict[str, Any] | None = None,
) -> PartnerRecommender:
    """A :class:`PartnerRecommender` fitted on ``corpus``.

    Args:
        corpus: The corpus.
        store: The embedder for corpus texts, normally behind the persistent cache
            (``cached(embedder, cache_dir)``), so only new or changed texts are embedded.
        project_vectors: The corpus's project vectors when already at hand (a Matcher's
            ``projects_.vectors``); built through ``store`` otherwise.
        params: Flat weights for :meth:`PartnerRecommender.from_params`.
    """
    from amif_match.embedding import embed_documents
    from amif_match.index import ProjectIndex

    if project_vectors is None:
        project_vectors = ProjectIndex.build(corpus, store).vectors
    organisation_vectors = embed_documents(store, organisation_texts(corpus))[0]
    model = PartnerRecommender.from_params(**(params or {}))
    return model.fit(corpus, project_vectors, organisation_vectors)


def suggest_partners_for_text(
    text: str,
    k: int = 10,
    *,
    corpus: Corpus | None = None,
    embedder: Embedder | None = None,
    params: dict[str, Any] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Suggest partners for a proposal text, end to end (see :meth:`PartnerRecommender.suggest`).

    Fits a recommender on every call (project and profile vectors come from the embedding
    cache); keep a :class:`~amif_match.matcher.Matcher` to serve many queries.

    Args:
        text: The proposal (any EU language; plain text or HTML).
        corpus: Defaults to the bundled corpus; pass ``Corpus.default().add(...)`` to include
            your own projects and organisations.
        embedder: Defaults to ``get_embedder()`` (the offline ``me5-small`` model).
        params: Flat weights for :meth:`PartnerRecommender.from_params`.
        **options: The other fields of :class:`PartnerQuery` (``applicant``,
            ``applicant_type``, ``consortium``, ``org_types``, ``region``, ``exclude``,
            ``complement``, ``newcomers``).

    Raises:
        TypeError, amif_match.errors.InputError: bad ``text`` (see ``amif_match.text``).
        ValueError: bad options (checked before the text is embedded).
    """
    from amif_match.embedding import embed_documents, get_embedder
    from amif_match.index import cached
    from amif_match.text import normalise

    corpus = Corpus.default() if corpus is None else corpus
    embedder = get_embedder() if embedder is None else embedder
    doc = normalise(text)
    query = PartnerQuery(k=k, **options)
    model = fit_recommender(corpus, cached(embedder), params=params)
    resolved = model.prepare(query)
    vector = embed_documents(embedder, [doc])[0][0]
    return model.rank(vector, resolved)
