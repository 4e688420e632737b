"""The programme's tables as the :class:`~amif_match.Matcher` hands them out.

A mixin, so that the façade keeps its ``get_*`` methods while the class stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from amif_match.corpus import Corpus

__all__ = ["ProgrammeTables"]


class ProgrammeTables:
    """``get_objectives``, ``get_activities`` and ``get_target_groups`` of a class with a
    ``corpus_``; each returns a copy the caller may change."""

    corpus_: Corpus

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
