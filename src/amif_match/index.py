"""Vector indexes over the corpus: the catalogue (objectives, activities, target groups) and
the past projects.

Both are built from a :class:`~amif_match.corpus.Corpus` and an embedder; every text goes
through the persistent embedding cache, so a corpus is embedded once per machine and a changed
or user-extended corpus only embeds its new texts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd

from amif_match.corpus import LANGS, Corpus
from amif_match.embedding import (
    CachedEmbedder,
    Embedder,
    EmbeddingCache,
    TfidfEmbedder,
    embed_documents,
)
from amif_match.embedding.shipped import ShippedVectors

__all__ = ["CatalogueIndex", "ProjectIndex", "cached", "unit"]


def unit(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def cached(embedder: Embedder, cache_dir: str | os.PathLike[str] | None = None) -> Embedder:
    """Wrap ``embedder`` with the shipped vectors and the on-disk embedding cache (no-op for
    TF-IDF and wrapped ones)."""
    if isinstance(embedder, CachedEmbedder | TfidfEmbedder):
        return embedder
    from amif_match.embedding.model_cache import cache_root

    return CachedEmbedder(
        embedder,
        EmbeddingCache(cache_root(cache_dir) / "embeddings.sqlite"),
        shipped=_bundled_vectors(),
    )


@lru_cache(maxsize=1)
def _bundled_vectors() -> ShippedVectors:
    return ShippedVectors.bundled()  # one instance, so the file is read once per process


def _mean_over_languages(vectors: np.ndarray, n_items: int) -> np.ndarray:
    """``vectors`` holds n_items x len(LANGS) rows, item-major; returns one centroid per item."""
    return unit(vectors.reshape(n_items, len(LANGS), -1).mean(axis=1))


def _term_pattern(term: str) -> str:
    """Regex for a term that tolerates Finnish/Swedish inflection: each word's stem + suffix."""
    words = re.findall(r"\w+", term.lower())
    parts = []
    for word in words:
        stem = word if len(word) <= 4 else word[: max(4, len(word) - 3)]
        parts.append(re.escape(stem) + r"\w*")
    return r"\b" + r"\W+".join(parts)


@dataclass
class CatalogueIndex:
    """Vectors of every catalogue item, as the centroid of its fi/sv/en texts.

    Attributes:
        objectives, activities, target_groups: The corpus tables (row order = vector order).
        objective_vectors, activity_vectors, target_group_vectors: ``(n, dim)`` unit rows.
        language_vectors: Per table, the ``(n, 3, dim)`` per-language vectors (fi, sv, en).
    """

    objectives: pd.DataFrame
    activities: pd.DataFrame
    target_groups: pd.DataFrame
    objective_vectors: np.ndarray
    activity_vectors: np.ndarray
    target_group_vectors: np.ndarray
    language_vectors: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, corpus: Corpus, embedder: Embedder) -> CatalogueIndex:
        texts: list[str] = []
        spans: dict[str, tuple[int, int]] = {}
        for table, first, second in (
            ("objectives", "name", "description"),
            ("activities", "name", "description"),
            ("target_groups", "term", "definition"),
        ):
            frame = getattr(corpus, table)
            start = len(texts)
            for row in frame.to_dict("records"):
                for lang in LANGS:
                    head = row.get(f"{first}_{lang}") or row[f"{first}_en"]
                    body = row.get(f"{second}_{lang}") or row[f"{second}_en"]
                    if table == "target_groups" and row.get(f"synonyms_{lang}"):
                        head = f"{head} ({', '.join(row[f'synonyms_{lang}'])})"
                    texts.append(f"{head}. {body}")
            spans[table] = (start, len(texts))
        vectors, _ = embed_documents(embedder, texts)
        per_lang = {
            table: vectors[a:b].reshape(-1, len(LANGS), vectors.shape[1])
            for table, (a, b) in spans.items()
        }
        return cls(
            objectives=corpus.objectives,
            activities=corpus.activities,
            target_groups=corpus.target_groups,
            objective_vectors=_mean_over_languages(
                vectors[slice(*spans["objectives"])], len(corpus.objectives)
            ),
            activity_vectors=_mean_over_languages(
                vectors[slice(*spans["activities"])], len(corpus.activities)
            ),
            target_group_vectors=_mean_over_languages(
                vectors[slice(*spans["target_groups"])], len(corpus.target_groups)
            ),
            language_vectors=per_lang,
        )

    def for_language(self, language: str) -> CatalogueIndex:
        """The same catalogue with vectors of one language's texts only.

        The model scores texts of the same language higher across the board, so a Finnish
        proposal is compared with the Finnish catalogue texts (this raised zero-shot objective
        accuracy on Finnish project descriptions from 0.72 to 0.80). Unknown languages get the
        language-neutral centroids (``self``).
        """
        if language not in LANGS or not self.language_vectors:
            return self
        views = self.__dict__.setdefault("_views", {})
        if language not in views:
            i = LANGS.index(language)
            views[language] = CatalogueIndex(
                objectives=self.objectives,
                activities=self.activities,
                target_groups=self.target_groups,
                objective_vectors=unit(self.language_vectors["objectives"][:, i]),
                activity_vectors=unit(self.language_vectors["activities"][:, i]),
                target_group_vectors=unit(self.language_vectors["target_groups"][:, i]),
                language_vectors=self.language_vectors,
            )
            # Term patterns do not depend on the language; share the compiled ones.
            views[language].__dict__["target_group_patterns"] = self.target_group_patterns
        return views[language]

    @cached_property
    def objective_codes(self) -> list[str]:
        return list(self.objectives["code"])

    @cached_property
    def activity_codes(self) -> list[str]:
        return list(self.activities["code"])

    @cached_property
    def target_group_codes(self) -> list[str]:
        return list(self.target_groups["code"])

    @cached_property
    def target_group_patterns(self) -> list[re.Pattern[str]]:
        """One compiled regex per target group matching its terms and synonyms (all languages)."""
        patterns = []
        for row in self.target_groups.to_dict("records"):
            terms = {row[f"term_{lang}"] for lang in LANGS if row.get(f"term_{lang}")}
            for lang in LANGS:
                terms.update(row.get(f"synonyms_{lang}") or [])
            alternatives = sorted({_term_pattern(t) for t in terms if re.search(r"\w", t)})
            patterns.append(re.compile("|".join(alternatives), re.IGNORECASE))
        return patterns

    def lexical_target_groups(self, text: str) -> np.ndarray:
        """1.0 where a target group's term or synonym occurs in ``text`` (inflections allowed)."""
        return np.array(
            [1.0 if p.search(text) else 0.0 for p in self.target_group_patterns], dtype=np.float32
        )


@dataclass
class ProjectIndex:
    """One vector per corpus project: the centroid of its Finnish and English texts.

    Attributes:
        projects: The corpus projects table (row order = vector order).
        vectors: ``(n_projects, dim)`` unit rows.
    """

    projects: pd.DataFrame
    vectors: np.ndarray

    @classmethod
    def build(cls, corpus: Corpus, embedder: Embedder) -> ProjectIndex:
        fi = corpus.project_texts("fi").tolist()
        en = corpus.project_texts("en").tolist()
        vectors, _ = embed_documents(embedder, fi + en)
        n = len(fi)
        return cls(projects=corpus.projects, vectors=unit(vectors[:n] + vectors[n:]))

    def similar(self, query: np.ndarray, k: int = 5) -> pd.DataFrame:
        """The ``k`` projects closest to one query vector: id, name, score (cosine)."""
        scores = self.vectors @ query
        order = np.argsort(-scores)[:k]
        return pd.DataFrame(
            {
                "id": self.projects["id"].to_numpy()[order],
                "name": self.projects["name"].to_numpy()[order],
                "score": scores[order].astype(float),
            }
        )
