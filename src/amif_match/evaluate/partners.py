"""Leave-one-partner-out evaluation of partner suggestions, its baselines and weight tuning.

Run ``python -m amif_match.evaluate.partners [--k 10] [--no-mask]`` for the tables alone.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from amif_match.corpus import Corpus
from amif_match.markdown import markdown_table
from amif_match.partners.query import ResolvedQuery
from amif_match.partners.recommender import DEFAULT_WEIGHTS, PartnerRecommender
from amif_match.partners.registry import Registry, clean, organisation_texts, participants

if TYPE_CHECKING:  # pragma: no cover
    from amif_match.embedding import Embedder

__all__ = [
    "DEFAULT_GRID",
    "METHODS",
    "country_tables",
    "evaluate_partners",
    "gini",
    "main",
    "mask_organisation_names",
    "report",
    "tune_weights",
]

_LEGAL_FORMS = {"ry", "rf", "sr", "oy", "ab", "oyj", "abp", "ltd"}


def _name_pattern(name: str) -> str | None:
    """Regex for an organisation name that tolerates Finnish/Swedish inflection.

    Legal forms (ry, oy, ...) are optional. Words of up to five letters take up to three more
    letters (THL:n, Humakin); longer words keep all but their last two letters as the stem
    (Maahanmuuttoviraston, Pakolaisavun) so that a one-word name such as ``Pakolaisapu`` does
    not also swallow the topic word ``pakolaisia``.
    """
    words = [w for w in re.findall(r"\w+", name.casefold()) if w not in _LEGAL_FORMS]
    if not words:
        return None
    parts = []
    for word in words:
        if len(word) <= 5:
            parts.append(re.escape(word) + r"\w{0,3}")
        else:
            parts.append(re.escape(word[: len(word) - 2]) + r"\w*")
    return r"\b" + r"\W+".join(parts) + r"\b"


def mask_organisation_names(text: str, names: Iterable[str], token: str = "organisaatio") -> str:
    """Replace mentions of an organisation (any of ``names``, inflected) in ``text``.

    Used by the evaluation: corpus descriptions name their partners, so a query built from a
    project's own text would otherwise give the hidden partner away by name.
    """
    patterns = sorted(
        {p for p in (_name_pattern(n) for n in names if n) if p}, key=len, reverse=True
    )
    for pattern in patterns:
        text = re.sub(pattern, token, text, flags=re.IGNORECASE)
    return text


def _org_names(organisations: pd.DataFrame, org: str) -> list[str]:
    row = organisations[organisations["id"] == org].iloc[0]
    aliases = row["aliases"] if isinstance(row["aliases"], list) else []
    return [str(org), clean(row["name"]), *aliases]


def _expected_rank_metrics(higher: int, ties: int, k: int) -> dict[str, float]:
    """Hit@1/5/k, MRR and nDCG@k when the truth is tied with ``ties - 1`` others, averaged
    over a uniformly random order of the ties (so no method gains from a lucky tie-break)."""
    ranks = np.arange(higher + 1, higher + ties + 1, dtype=np.float64)
    out = {f"Hit@{n}": float((ranks <= n).mean()) for n in sorted({1, 5, k})}
    out["MRR"] = float((1.0 / ranks).mean())
    out[f"nDCG@{k}"] = float(np.where(ranks <= k, 1.0 / np.log2(ranks + 1), 0.0).mean())
    out["rank"] = float(ranks.mean())
    return out


def gini(counts: Sequence[float]) -> float:
    """Gini index of how often each item was recommended (0 = even, 1 = one item only)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    return float(((2 * np.arange(1, n + 1) - n - 1) * x).sum() / (n * total))


#: The combined recommender, then the baselines: one-signal recommenders (see :func:`_models`).
METHODS = ("combined", "text_only", "adamic_adar_only", "popularity")

#: Baseline -> (signal of the combined recommender it keeps, parameters changed on it).
_BASELINES: dict[str, tuple[str, dict[str, float]]] = {
    "text_only": ("text", {}),
    "adamic_adar_only": ("network", {"repeat": 0.0}),
    "popularity": ("popularity", {}),
}


def _models(params: dict[str, Any], methods: Sequence[str]) -> dict[str, PartnerRecommender]:
    """Unfitted recommenders per method; a baseline is one signal of the combined one."""
    combined = PartnerRecommender.from_params(**{**DEFAULT_WEIGHTS, **params})
    signals = dict(combined.signals)
    models = {}
    for method in methods:
        if method == "combined":
            models[method] = combined
        elif method in _BASELINES:
            name, changed = _BASELINES[method]
            models[method] = PartnerRecommender(
                [(name, clone(signals[name]).set_params(**changed))]
            )
        else:
            raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    return models


def _leave_one_partner_out_queries(corpus: Corpus, *, mask_names: bool) -> list[dict[str, Any]]:
    texts = corpus.project_texts("fi")
    orgs = corpus.organisations
    org_country = dict(
        zip(orgs["id"], orgs["country"] if "country" in orgs else [""] * len(orgs), strict=True)
    )
    queries: list[dict[str, Any]] = []
    for j, row in enumerate(corpus.projects.to_dict("records")):
        members = participants(row["lead"], row["partners"])
        if len(members) < 2:
            continue
        for hidden in members:
            text = texts.iloc[j]
            if mask_names:
                text = mask_organisation_names(text, _org_names(corpus.organisations, hidden))
            consortium = [m for m in members if m != hidden]
            hidden_country = clean(org_country.get(hidden))
            queries.append(
                {
                    "project_row": j,
                    "project_id": row["id"],
                    "period": clean(row.get("period")) or "unknown",
                    "country": clean(row.get("country")),
                    "hidden": hidden,
                    "hidden_country": hidden_country,
                    # A partner from a country none of the other participants is from: what
                    # a transnational consortium has to find.
                    "cross_border": hidden_country
                    not in {clean(org_country.get(m)) for m in consortium},
                    "consortium": consortium,
                    "text": text,
                }
            )
    return queries


@dataclass
class _EvalData:
    corpus: Corpus
    project_vectors: np.ndarray
    organisation_vectors: np.ndarray
    queries: list[dict[str, Any]]
    query_vectors: np.ndarray
    embedder_name: str

    def subset(self, period: str | None) -> _EvalData:
        if period is None:
            return self
        chosen = [i for i, q in enumerate(self.queries) if q["period"] == period]
        if not chosen:
            raise ValueError(f"no evaluation query comes from a project of period {period!r}")
        return _EvalData(
            self.corpus,
            self.project_vectors,
            self.organisation_vectors,
            [self.queries[i] for i in chosen],
            self.query_vectors[chosen],
            self.embedder_name,
        )


def _eval_data(corpus: Corpus | None, embedder: Embedder | None, mask_names: bool) -> _EvalData:
    from amif_match.embedding import embed_documents, get_embedder
    from amif_match.index import ProjectIndex, cached

    corpus = Corpus.default() if corpus is None else corpus
    embedder = get_embedder() if embedder is None else embedder
    wrapped = cached(embedder)
    project_vectors = ProjectIndex.build(corpus, wrapped).vectors
    organisation_vectors = embed_documents(wrapped, organisation_texts(corpus))[0]
    queries = _leave_one_partner_out_queries(corpus, mask_names=mask_names)
    if not queries:
        raise ValueError("the corpus has no project with two or more participants to evaluate")
    query_vectors = embed_documents(wrapped, [q["text"] for q in queries])[0]
    return _EvalData(
        corpus, project_vectors, organisation_vectors, queries, query_vectors, embedder.name
    )


def _run_lopo(
    data: _EvalData,
    params_list: Sequence[dict[str, Any]],
    methods: Sequence[str],
    k: int,
) -> list[dict[str, Any]]:
    """One result row per (params index, method, query); baselines only for params 0."""
    rows: list[dict[str, Any]] = []
    by_project: dict[int, list[int]] = {}
    for qi, q in enumerate(data.queries):
        by_project.setdefault(q["project_row"], []).append(qi)
    corpus = data.corpus
    models = [
        _models(params, methods if pi == 0 else ["combined"])
        for pi, params in enumerate(params_list)
    ]
    for j, qis in by_project.items():
        # The query project is a proposal being written: drop it from the fitted corpus, which
        # removes the hidden partner's link from both its text profile and the graph.
        keep = np.ones(len(corpus.projects), dtype=bool)
        keep[j] = False
        registry = Registry.from_tables(corpus.projects[keep], corpus.organisations)
        for pi, by_method in enumerate(models):
            fitted = {
                method: model.fit_registry(
                    registry, data.project_vectors[keep], data.organisation_vectors
                )
                for method, model in by_method.items()
            }
            for qi in qis:
                rows.extend(
                    _score_query(registry, fitted, data.queries[qi], data.query_vectors[qi], pi, k)
                )
    return rows


def _score_query(
    registry: Registry,
    fitted: dict[str, PartnerRecommender],
    q: dict[str, Any],
    vector: np.ndarray,
    pi: int,
    k: int,
) -> list[dict[str, Any]]:
    """The metric rows of one query for each fitted method: ``ranking`` ``all`` ranks every
    registry organisation; ``default_scope`` ranks what a user gets by default (a national
    project: organisations of its country; a Union action: every organisation), where a
    hidden partner outside the scope counts as a miss."""
    seeds = tuple(m for m in q["consortium"] if m in registry.org_index)
    query = ResolvedQuery(seeds=seeds)
    candidates = np.ones(len(registry), dtype=bool)
    candidates[[registry.org_index[s] for s in seeds]] = False
    union_action = q.get("country", "") == "EU"
    in_scope = candidates.copy()
    if q.get("country") and not union_action:
        scope = ResolvedQuery(countries=frozenset({q["country"]}))
        in_scope &= np.array([scope.in_scope(c) for c in registry.org_countries])
    truth = registry.org_index[q["hidden"]]
    incumbent = bool(registry.n_projects[truth] > 0)
    rows = []
    for method, model in fitted.items():
        scores = model.scores(vector, query).score.astype(np.float64)
        for ranking, mask in (("all", candidates), ("default_scope", in_scope)):
            if mask[truth]:
                cand_scores = scores[mask]
                s_true = scores[truth]
                higher = int((cand_scores > s_true + 1e-9).sum())
                ties = int((np.abs(cand_scores - s_true) <= 1e-9).sum())
                metrics = _expected_rank_metrics(higher, ties, k)
            else:  # the default scope never suggests it
                metrics = {key: 0.0 for key in _expected_rank_metrics(0, 1, k)}
                metrics["rank"] = float("nan")
            order = sorted(
                np.flatnonzero(mask),
                key=lambda i: (-scores[i], -registry.n_projects[i], registry.org_ids[i]),
            )
            rows.append(
                {
                    "params": pi,
                    "ranking": ranking,
                    "method": method,
                    "project_id": q["project_id"],
                    "period": q["period"],
                    "country": q.get("country", ""),
                    "project_kind": "union_action" if union_action else "national",
                    "hidden": q["hidden"],
                    "hidden_country": q.get("hidden_country", ""),
                    "cross_border": bool(q.get("cross_border", False)),
                    "in_scope": bool(mask[truth]),
                    "segment": "incumbents" if incumbent else "newcomers",
                    "top": [str(registry.org_ids[i]) for i in order[:k]],
                    **metrics,
                }
            )
    return rows


def _metric_table(rows: pd.DataFrame, k: int, by: Sequence[str]) -> pd.DataFrame:
    cols = list(dict.fromkeys(["Hit@1", "Hit@5", f"Hit@{k}", "MRR", f"nDCG@{k}"]))
    parts = []
    for segment in ("incumbents", "newcomers", "all"):
        sub = rows if segment == "all" else rows[rows["segment"] == segment]
        if sub.empty:
            continue
        grouped = sub.groupby(list(by), sort=False)
        agg = grouped[cols].mean()
        agg["n_queries"] = grouped.size()
        agg.insert(0, "segment", segment)
        parts.append(agg.reset_index())
    if not parts:
        return pd.DataFrame(columns=["segment", *by, *cols, "n_queries"])
    return pd.concat(parts, ignore_index=True)


def country_tables(queries: pd.DataFrame, k: int = 10) -> dict[str, pd.DataFrame]:
    """The multi-country partner tables from the ``queries`` frame of :func:`evaluate_partners`.

    Returns:
        ``by_scope``: per project kind (``national``, ``union_action``), segment and method,
        ranked as a user gets it by default (a national project's queries rank only the
        organisations of its country, as when the applicant's country is known; a Union
        action's rank every organisation, as in transnational mode); ``out_of_scope`` is the
        share of queries whose hidden partner is from another country, which the default
        national scope never suggests (they count as misses). ``union_actions``: the Union
        action queries by partner kind (``cross_border``: the hidden partner's country is not
        among the other participants' countries, what a transnational consortium has to find;
        ``same_country``), segment and method, over every organisation.
    """
    scoped = queries[queries["ranking"] == "default_scope"]
    by_scope = _metric_table(scoped, k, ["project_kind", "method"])
    share = (
        (~scoped["in_scope"])
        .groupby([scoped["project_kind"], scoped["method"]])
        .mean()
        .rename("out_of_scope")
    )
    by_scope = by_scope.join(share, on=["project_kind", "method"])
    union = queries[(queries["ranking"] == "all") & (queries["project_kind"] == "union_action")]
    union = union.assign(partner=np.where(union["cross_border"], "cross_border", "same_country"))
    return {"by_scope": by_scope, "union_actions": _metric_table(union, k, ["partner", "method"])}


def evaluate_partners(
    corpus: Corpus | None = None,
    embedder: Embedder | None = None,
    *,
    k: int = 10,
    mask_names: bool = True,
    params: dict[str, Any] | None = None,
) -> dict[str, pd.DataFrame]:
    """Leave-one-partner-out evaluation of partner suggestions and three baselines.

    For every corpus project with at least two participants and for each of its participants:
    hide that participant, drop the project from the fitted corpus (so the hidden
    organisation's link to it is gone from both its text profile and the co-participation
    graph), query with the project's Finnish text, else its own-language one (with every
    mention of the hidden organisation masked when ``mask_names``: the corpus descriptions
    name their partners) and the remaining participants as the consortium, and rank *all*
    registry organisations except the consortium (and, for :func:`country_tables`, those of
    the default country scope). Ties are scored as the expectation over a random order of the tied
    organisations, so no method profits from a lucky tie-break.

    Methods: ``combined`` (:meth:`PartnerRecommender.from_params` with ``params`` over the
    defaults) and three one-signal recommenders as baselines: ``text_only`` (the text signal),
    ``adamic_adar_only`` (Adamic-Adar from the consortium, no repeat term) and ``popularity``
    (most past projects).

    Returns:
        ``metrics``: Hit@1/5/k, MRR, nDCG@k and n_queries per method and segment
        (``incumbents``: the hidden organisation has other projects; ``newcomers``: it has
        none; ``all``). ``by_period``: the same per project period (the defaults were tuned on
        2014-2020 queries only, so 2021-2027 is held out). ``diversity``: coverage (share of
        registry organisations in any top-k list) and Gini of top-k appearances per method.
        ``queries``: one row per (method, query) with the expected rank and the top-k list.
        ``by_scope``, ``union_actions``: see :func:`country_tables`; ``queries_in_scope``:
        the query rows ranked in the default country scope.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    data = _eval_data(corpus, embedder, mask_names)
    every = pd.DataFrame(_run_lopo(data, [params or {}], METHODS, k))
    rows = every[every["ranking"] == "all"].drop(columns=["ranking"]).reset_index(drop=True)
    metrics = _metric_table(rows, k, ["method"])
    by_period = _metric_table(rows, k, ["period", "method"])
    organisations = data.corpus.organisations["id"].tolist()
    diversity = []
    for method in METHODS:
        counts = Counter(itertools.chain.from_iterable(rows.loc[rows["method"] == method, "top"]))
        diversity.append(
            {
                "method": method,
                f"coverage@{k}": len(counts) / len(organisations),
                f"gini@{k}": gini([counts.get(o, 0) for o in organisations]),
                "distinct_recommended": len(counts),
                "n_organisations": len(organisations),
            }
        )
    out = {
        "metrics": metrics,
        "by_period": by_period,
        "diversity": pd.DataFrame(diversity),
        **country_tables(every, k),
        "queries": rows.drop(columns=["params"]),
        "queries_in_scope": every[every["ranking"] == "default_scope"]
        .drop(columns=["params", "ranking"])
        .reset_index(drop=True),
    }
    for frame in out.values():
        frame.attrs.update({"embedder": data.embedder_name, "mask_names": mask_names, "k": k})
    return out


#: The grid :func:`tune_weights` searches by default.
DEFAULT_GRID: dict[str, Sequence[float]] = {
    "network_weight": [0.0, 0.25, 0.5, 1.0],
    "popularity_weight": [0.0, 0.05, 0.1, 0.2],
    "profile_weight": [0.0, 0.2, 0.4, 0.6, 1.0],
    "bonus": [0.0, 0.1, 0.25, 0.5],
    "repeat": [0.0, 1.0, 2.0],
}


def tune_weights(
    corpus: Corpus | None = None,
    embedder: Embedder | None = None,
    *,
    grid: dict[str, Sequence[float]] | None = None,
    period: str | None = "2014-2020",
    k: int = 10,
    mask_names: bool = True,
) -> pd.DataFrame:
    """Grid search of :class:`PartnerRecommender` weights with leave-one-partner-out.

    Only queries from projects of ``period`` are used (``None``: all), so the defaults are
    tuned on 2014-2020 projects and the 2021-2027 ones stay held out. Parameters not in
    ``grid`` keep their defaults. Returns one row per grid point with the metrics per segment,
    best ``MRR[all]`` first.
    """
    grid = dict(DEFAULT_GRID if grid is None else grid)
    data = _eval_data(corpus, embedder, mask_names).subset(period)
    names = list(grid)
    params_list = [
        dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())
    ]
    rows = pd.DataFrame(_run_lopo(data, params_list, ["combined"], k))
    table = _metric_table(rows[rows["ranking"] == "all"], k, ["params"])
    wide = table.pivot(index="params", columns="segment")
    wide.columns = [f"{metric}[{segment}]" for metric, segment in wide.columns]
    wide = wide.reset_index()
    for pos, name in enumerate(names):
        wide.insert(pos, name, [params_list[p][name] for p in wide["params"]])
    return wide.drop(columns=["params"]).sort_values(
        ["MRR[all]", f"Hit@{k}[all]"], ascending=False, ignore_index=True
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m amif_match.evaluate.partners [--k 10] [--no-mask]``: the evaluation tables."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--no-mask", action="store_true", help="keep partner names in queries")
    args = parser.parse_args(argv)
    result = evaluate_partners(k=args.k, mask_names=not args.no_mask)
    print(
        f"Leave-one-partner-out, embedder {result['metrics'].attrs['embedder']}, "
        f"names masked: {not args.no_mask}\n"
    )
    print(report(result))
    return 0


def report(result: dict[str, Any], *, details: bool = True) -> str:
    """:func:`evaluate_partners` tables as Markdown (``details``: by period, scope, Union)."""
    parts = [markdown_table(result["metrics"]), markdown_table(result["diversity"])]
    if details:
        parts += [
            "By project period (weights tuned on 2014-2020 queries only):\n\n"
            + markdown_table(result["by_period"]),
            "Default country scope (national: own country only; Union actions: all):\n\n"
            + markdown_table(result["by_scope"]),
            "Union actions, cross-border vs same-country partners (all organisations):\n\n"
            + markdown_table(result["union_actions"]),
        ]
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
