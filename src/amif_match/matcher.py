"""The :class:`Matcher` façade and the module-level functions services call.

A Matcher bundles a :class:`~amif_match.corpus.Corpus`, an embedder, the catalogue and project
indexes and the fitted heads. Everything heavy happens once, on first use: embedding the
catalogue and corpus (cached on disk by content hash) and loading the heads from ``models/``.
If the stored heads were trained for another corpus or embedder (e.g. a user-extended corpus)
they are retrained in memory, which takes seconds.

Example:
    >>> from amif_match import Matcher
    >>> m = Matcher.default()
    >>> m.classify("Kotoutumiskoulutusta maahanmuuttajanaisille").objective
    'SO2'
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pandas as pd

from amif_match.classification import (
    ActivityRanker,
    Classification,
    ProposalClassifier,
    model_folder,
)
from amif_match.classification.assemble import DisplayNames, ResultAssembler, summary_row
from amif_match.classification.training import (
    fit_proposal_classifier,
    load_or_fit,
    save_classifier,
    training_signals,
)
from amif_match.corpus import Corpus
from amif_match.embedding import DEFAULT_EMBEDDER, Embedder, embed_documents, get_embedder
from amif_match.feedback import FeedbackRecord, record_feedback, training_feedback
from amif_match.index import CatalogueIndex, ProjectIndex, cached
from amif_match.options import check_options
from amif_match.programme import ProgrammeTables
from amif_match.text import MAX_CHARS, as_text_list, normalise, normalise_all, read_document

if TYPE_CHECKING:  # pragma: no cover
    from amif_match.partners import PartnerRecommender

__all__ = ["Matcher", "classify", "classify_file", "suggest_partners"]


class Matcher(ProgrammeTables):
    """Classify proposals, match catalogue activities, suggest partners, learn from corrections.

    Args:
        corpus: The corpus to use (default: the bundled one, :meth:`Corpus.default`).
        embedder: Embedder name or instance (default ``"me5-small"``).
        backend: Runtime of the default model: ``"onnx"`` (default), ``"fast"`` or
            ``"torch"`` (see :data:`amif_match.embedding.BACKENDS`); ``None`` reads
            ``$AMIF_MATCH_BACKEND``.
        model_dir: Folder of fitted heads (default: the bundled ``models/``).
        cache_dir: Cache folder for the converted model and the embedding cache.

    Example: in the module's docstring; ``get_objectives`` & co.: :class:`ProgrammeTables`.
    """

    def __init__(
        self,
        corpus: Corpus | None = None,
        embedder: str | Embedder = DEFAULT_EMBEDDER,
        *,
        backend: str | None = None,
        model_dir: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.corpus = corpus
        self.embedder = embedder
        self.backend = backend
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

    @cached_property
    def corpus_(self) -> Corpus:
        return self.corpus if self.corpus is not None else Corpus.default()

    @cached_property
    def embedder_(self) -> Embedder:
        if isinstance(self.embedder, str):
            return get_embedder(self.embedder, backend=self.backend, cache_dir=self.cache_dir)
        if self.backend is not None:
            raise ValueError("backend= applies to an embedder given by name, not an instance")
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
            return load_or_fit(
                model_folder(self.model_dir),
                self.embedder_.name,
                self.corpus_.fingerprint,
                self._fit_classifier,
            )

    @cached_property
    def partners_(self) -> PartnerRecommender:
        """The fitted partner recommender, on this Matcher's project index and cache."""
        from amif_match.partners import fit_recommender

        with self._lock:
            return fit_recommender(self.corpus_, self._store, self.projects_.vectors)

    def fit(self) -> Matcher:
        """Build everything now (otherwise it happens on first use). Returns ``self``."""
        _ = self.catalogue_, self.projects_, self.classifier_
        return self

    def training_signals(self) -> dict[str, Any]:
        """Embedded training data: per-language project vectors, sentences and texts."""
        return training_signals(self.corpus_, self._store)

    def _fit_classifier(self, feedback: Sequence[FeedbackRecord] = ()) -> ProposalClassifier:
        return fit_proposal_classifier(self.corpus_, self._store, self.catalogue_, feedback)

    def train(
        self, save_to: str | os.PathLike[str] | None = None, *, feedback: Any = None
    ) -> Matcher:
        """Retrain the heads on the corpus and (``amif-match train --with-feedback``) on the
        corrections in ``feedback`` (a :class:`~amif_match.feedback.FeedbackStore`, its path,
        or ``True``: the default store); optionally save them to ``save_to``."""
        records, extra = training_feedback(feedback)
        with self._lock:
            model = self.__dict__["classifier_"] = self._fit_classifier(records)
            for stale in ("activity_ranker_", "assembler_"):  # built on the former heads
                self.__dict__.pop(stale, None)
            if save_to is not None:
                save_classifier(
                    model, save_to, self.embedder_.name, self.corpus_.fingerprint, extra
                )
        return self

    def record_feedback(self, text: str, *, objective: str, **details: Any) -> FeedbackRecord:
        """Store an officer's confirmation or correction of the result for ``text`` and return
        the record; ``details``: see :func:`amif_match.feedback.record_feedback`."""
        return record_feedback(self, text, objective=objective, **details)

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
        """Classify one proposal (any language; plain text or HTML).

        The options (``k``, ``threshold``, ``min_labels``, ``language``) are defined, with their
        limits and help, in :mod:`amif_match.options`; ``max_chars`` is the longest text.
        """
        return self.classify_batch(
            [text],
            k=k,
            threshold=threshold,
            min_labels=min_labels,
            language=language,
            max_chars=max_chars,
        )[0]

    def classify_file(self, path: str | os.PathLike[str], **options: Any) -> Classification:
        """Classify one document: .docx, .pdf, .odt, .txt, .md or .html (errors name the file;
        see :func:`amif_match.text.read_document`). ``options`` are those of :meth:`classify`."""
        text = read_document(path, max_chars=options.get("max_chars", MAX_CHARS))
        return self.classify(text, **options)

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
        # The language is checked by normalise(), with the text.
        check_options("classify", {"k": k, "threshold": threshold, "min_labels": min_labels})
        docs = normalise_all(texts, language=language, max_chars=max_chars)
        return self.assembler_.classify_documents(
            docs,
            self.embedder_,
            k=k,
            threshold=threshold,
            min_labels=min_labels,
            show_progress_bar=show_progress_bar,
        )

    @cached_property
    def assembler_(self) -> ResultAssembler:
        """Turns embedded texts into results with this Matcher's fitted parts."""
        return _assembler(self.fit())

    def classify_many(self, texts: Sequence[str] | pd.Series, **options: Any) -> pd.DataFrame:
        """Classify a batch: one row per text (see :func:`summary_row`), Series index kept."""
        index = texts.index if isinstance(texts, pd.Series) else None
        items, _ = as_text_list(texts)  # refuses mappings and DataFrames with a clear TypeError
        results = self.classify_batch(items, **options)
        rows = [summary_row(r) for r in results]
        return pd.DataFrame(rows, index=index)

    @cached_property
    def activity_ranker_(self) -> ActivityRanker:
        """The heads' trained activity ranker, or a similarity-only one for older heads."""
        return ActivityRanker.of(self.classifier_, self.catalogue_)

    def match_activities(
        self, text: str, k: int = 10, *, layer: str | None = None, language: str | None = None
    ) -> pd.DataFrame:
        """The ``k`` catalogue activities closest to ``text`` (optionally one ``layer``)."""
        check_options("activities", {"k": k, "layer": layer})
        doc = normalise(text, language=language)
        assembler = self.assembler_
        doc_vecs, sent_vecs = embed_documents(self.embedder_, [doc])
        return assembler.activity_frame(doc, doc_vecs, sent_vecs, k=k, layer=layer)

    def suggest_partners(
        self,
        text: str,
        k: int = 10,
        *,
        applicant: str | None = None,
        applicant_type: str | None = None,
        consortium: Sequence[str] | None = None,
        org_types: Sequence[str] | None = None,
        region: str | Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
        countries: str | Sequence[str] | None = None,
        country: str | None = None,
        transnational: int | None = None,
        complement: bool = False,
        newcomers: bool = True,
    ) -> pd.DataFrame:
        """Organisations with the most relevant past AMIF work for this proposal, best first.

        Every option is defined, with its limits and help, in :mod:`amif_match.options`
        (``amif-match partners --help`` prints the same texts); names may be ids, names or
        aliases. See :class:`amif_match.partners.PartnerRecommender` for the scoring and the
        columns.
        """
        # Every parameter but the text is a partner option (amif_match.options names them all).
        options = {name: value for name, value in locals().items() if name not in ("self", "text")}
        from amif_match.partners import PartnerQuery

        check_options("partners", options)  # before the (slow) embedding
        doc = normalise(text)
        # Names and regions are checked against the registry, still before embedding.
        resolved = self.partners_.prepare(PartnerQuery(**options))
        vector = embed_documents(self.embedder_, [doc])[0][0]
        return self.partners_.rank(vector, resolved)

    def __repr__(self) -> str:
        name = self.embedder if isinstance(self.embedder, str) else self.embedder.name
        return f"Matcher(embedder={name!r}, corpus={self.corpus_!r})"


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


def classify_file(path: str | os.PathLike[str], **options: Any) -> dict[str, Any]:
    """Classify one document with the default :class:`Matcher` (see
    :meth:`Matcher.classify_file`); the ``dict`` of :meth:`Classification.to_dict`."""
    return Matcher.default().classify_file(path, **options).to_dict()


def _assembler(matcher: Matcher) -> ResultAssembler:
    """The :class:`ResultAssembler` of a fitted Matcher (its ``assembler_``)."""
    from amif_match._version import __version__

    return ResultAssembler(
        classifier=matcher.classifier_,
        catalogue=matcher.catalogue_,
        projects=matcher.projects_,
        activities=matcher.activity_ranker_,
        names=DisplayNames.from_corpus(matcher.corpus_),
        model_info={"embedder": matcher.embedder_.name, "version": __version__},
    )


def suggest_partners(text: str, k: int = 10, **options: Any) -> list[dict[str, Any]]:
    """Partner suggestions from the default :class:`Matcher` as JSON-safe dicts, best first.

    Options are those of :meth:`Matcher.suggest_partners`.
    """
    from amif_match.partners import to_records

    return to_records(Matcher.default().suggest_partners(text, k, **options))
