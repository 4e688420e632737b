"""amif_match: match proposals to the EU Asylum, Migration and Integration Fund (AMIF).

Embeds proposals and the programme's activity catalogue with an offline multilingual
sentence-transformers model (Finnish, Swedish, English), classifies proposals and suggests
partner organisations from past funded projects.

Importing this package is cheap: torch, sentence-transformers and the model load only when a
function that needs them is first called.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from amif_match._version import __version__

# Public name -> module that defines it. Resolved lazily (PEP 562) so that
# ``import amif_match`` never imports torch or loads a model.
_LAZY: dict[str, str] = {
    "Classification": "amif_match.classification",
    "Corpus": "amif_match.corpus",
    "Matcher": "amif_match.matcher",
    "classify": "amif_match.matcher",
    "classify_file": "amif_match.matcher",
    "suggest_partners": "amif_match.matcher",
    "CorpusError": "amif_match.errors",
    "Embedder": "amif_match.embedding",
    "get_embedder": "amif_match.embedding",
    "ModelCacheError": "amif_match.errors",
}

__all__ = [
    "Classification",
    "Corpus",
    "CorpusError",
    "Embedder",
    "Matcher",
    "ModelCacheError",
    "__version__",
    "classify",
    "classify_file",
    "get_embedder",
    "suggest_partners",
]

if TYPE_CHECKING:  # pragma: no cover
    from amif_match.classification import Classification
    from amif_match.corpus import Corpus
    from amif_match.embedding import Embedder, get_embedder
    from amif_match.errors import CorpusError, ModelCacheError
    from amif_match.matcher import Matcher, classify, classify_file, suggest_partners


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'amif_match' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
