"""The result of classifying one proposal: :class:`Classification`."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Classification"]

#: ``to_frame()`` rows: kind, list attribute, and the keys read for code, name, score, selected.
_FRAME_ROWS: tuple[tuple[str, str, str, str, str, str | None], ...] = (
    ("objective", "objectives", "code", "name", "probability", "selected"),
    ("activity", "activities", "code", "name", "score", None),
    ("target_group", "target_groups", "code", "name", "probability", "selected"),
    ("similar_project", "similar_projects", "id", "name", "score", None),
    ("evidence", "evidence", "supports", "text", "score", None),
)

#: Columns of the objective and target-group tables in ``_repr_html_()``: (header, key).
_LABEL_COLUMNS = tuple((key, key) for key in ("code", "name", "probability", "selected"))

#: ``_repr_html_()`` tables: title, list attribute, and (column header, key) pairs.
_HTML_TABLES: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("Objectives", "objectives", _LABEL_COLUMNS),
    ("Target groups", "target_groups", _LABEL_COLUMNS),
    (
        "Activities",
        "activities",
        tuple((key, key) for key in ("code", "layer", "objective", "name", "score")),
    ),
    ("Evidence", "evidence", (("sentence", "text"), ("supports", "supports"), ("score", "score"))),
    (
        "Similar past projects",
        "similar_projects",
        (("id", "id"), ("name", "name"), ("score", "score")),
    ),
)


def _html_cell(key: str, value: Any) -> str:
    if key == "selected":
        return "✔" if value else ""
    if key in ("probability", "score"):
        return f"{value:.2f}"
    return html.escape(str(value))


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
        rows = [
            {
                "kind": kind,
                "code": item[code],
                "name": item[name],
                "score": item[score],
                "selected": None if selected is None else item[selected],
            }
            for kind, attribute, code, name, score, selected in _FRAME_ROWS
            for item in getattr(self, attribute)
        ]
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
        for title, attribute, columns in _HTML_TABLES:
            head = "".join(f"<th>{esc(header)}</th>" for header, _ in columns)
            body = "".join(
                "<tr>" + "".join(f"<td>{_html_cell(k, item[k])}</td>" for _, k in columns) + "</tr>"
                for item in getattr(self, attribute)
            )
            parts.append(
                f"<h4>{esc(title)}</h4><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>"
            )
        return "\n".join(parts)
