"""What the classification estimators read about a batch of documents."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Signals"]


@dataclass(frozen=True)
class Signals:
    """Per-document inputs of the target-group and activity estimators, in one language.

    Attributes:
        doc: ``(n, d)`` document vectors.
        sentences: ``n`` arrays of ``(m_i, d)`` sentence (passage) vectors.
        texts: The ``n`` normalised texts (read by the term matcher).
    """

    doc: np.ndarray
    sentences: list[np.ndarray]
    texts: list[str]
