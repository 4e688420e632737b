"""Every option and every result field of the three interfaces, defined once.

The Python API (:class:`~amif_match.matcher.Matcher` and the module-level functions), the
command line and the HTTP service all take the options below and return the fields below. The
CLI derives its argparse arguments (:func:`add_arguments`) and the service its pydantic request
and response models from these definitions, and the Python API validates with
:func:`check_options`; ``tests/test_interfaces_parity.py`` checks that the three agree. A new
option is one :class:`Option` here plus its use in the library.

This module is imported by the CLI before any model work: it imports the corpus constants
(and so pandas) but no model code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from amif_match.corpus import LAYERS, MEMBER_STATES, ORG_TYPES
from amif_match.text import MAX_CHARS, TEXT_LANGUAGES

__all__ = [
    "COMMANDS",
    "LAYERS",
    "MAX_CHARS",
    "MAX_K",
    "OPTIONS",
    "ORG_TYPES",
    "RESULTS",
    "RESULT_OF",
    "Field",
    "Option",
    "check_options",
    "options_for",
]

#: The commands (CLI sub-commands, service endpoints, API methods) that take options.
COMMANDS = ("classify", "partners", "activities")

#: Largest ``k`` (list length) any interface accepts.
MAX_K = 50
#: Most names in one list option (``consortium``, ``exclude``, ...) and longest name.
MAX_NAMES = 100
MAX_NAME_CHARS = 300


@dataclass(frozen=True)
class Option:
    """One option of one or more commands.

    Args:
        name: The keyword in Python and JSON (``org_types``); the CLI flag is ``flag``.
        type: ``int``, ``float``, ``str`` or ``bool``; with ``many`` a list of that type.
        default: The value when the option is not given (the same in every interface).
        help: One line of English for ``--help`` and the OpenAPI schema.
        commands: The commands that take it.
        minimum, maximum: Inclusive bounds of a number.
        choices: The allowed values of a ``str`` option.
        many: A list of values (the CLI repeats the flag; ``;`` also separates values).
        flag: The CLI flag when it is not ``--`` plus the name with dashes.
        short: A one-letter CLI flag (``-k``).
        several: With ``many``, one CLI flag also takes several values (``--countries SE DE``).
    """

    name: str
    type: type
    default: Any
    help: str
    commands: tuple[str, ...]
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    many: bool = False
    flag: str | None = None
    short: str | None = None
    several: bool = False

    @property
    def cli_flag(self) -> str:
        """The long CLI flag, e.g. ``--min-labels``."""
        return self.flag or "--" + self.name.replace("_", "-")

    def check(self, value: Any) -> None:
        """Raise ``ValueError`` (``TypeError`` for a wrong type) unless ``value`` is allowed."""
        if value is None and (self.default is None or self.many):
            return
        if self.many:
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list | tuple | set | frozenset):
                raise TypeError(
                    f"{self.name} must be a str or a list of str, got {type(value).__name__}"
                )
            for item in items:
                self._check_one(item)
            return
        self._check_one(value)

    def _check_one(self, value: Any) -> None:
        kind = self.type
        if kind is bool:
            if not isinstance(value, bool):
                raise TypeError(f"{self.name} must be True or False, got {value!r}")
        elif kind is int:
            if not isinstance(value, int) or isinstance(value, bool) or not self._in_range(value):
                raise ValueError(f"{self.name} must be {self.describe()}, got {value!r}")
        elif kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or not self._in_range(value):
                raise ValueError(f"{self.name} must be {self.describe()}, got {value!r}")
        elif not isinstance(value, str):
            raise TypeError(f"{self.name} must be a str, got {type(value).__name__}")
        elif self.choices is not None and value not in self.choices:
            raise ValueError(f"{self.name} must be one of {', '.join(self.choices)}, got {value!r}")

    def _in_range(self, value: float) -> bool:
        low = -math.inf if self.minimum is None else self.minimum
        high = math.inf if self.maximum is None else self.maximum
        return low <= value <= high

    def describe(self) -> str:
        """What a number must be, in words (used in every interface's error messages)."""
        if self.type is float:
            return f"a number between {self.minimum:g} and {self.maximum:g}"
        low = int(self.minimum or 0)
        what = {1: "a positive integer", 0: "a non-negative integer"}.get(
            low, f"an integer of at least {low}"
        )
        return what if self.maximum is None else f"{what} (at most {self.maximum:g})"


_K_HELP = "Length of each returned list"

#: Every option, in the order the interfaces list them.
OPTIONS: tuple[Option, ...] = (
    Option(
        "k",
        int,
        10,
        f"{_K_HELP}: activities, target groups, evidence sentences and similar projects; "
        "organisations; catalogue activities",
        ("classify", "partners", "activities"),
        minimum=1,
        maximum=MAX_K,
        short="-k",
    ),
    Option(
        "threshold",
        float,
        None,
        "Probability at or above which a target group or extra objective is selected "
        "(default: the thresholds tuned by cross-validation)",
        ("classify",),
        minimum=0.0,
        maximum=1.0,
    ),
    Option(
        "min_labels",
        int,
        1,
        "At least this many objectives and target groups are selected; 0 allows none",
        ("classify",),
        minimum=0,
        maximum=10,
    ),
    Option(
        "language",
        str,
        None,
        "Language of the text, any EU official language (default: detected); names are shown "
        "in fi, sv or en, else in English",
        ("classify", "activities"),
        choices=TEXT_LANGUAGES,
    ),
    Option(
        "applicant",
        str,
        None,
        "The applicant (id, name or alias); never suggested, its past partners count",
        ("partners",),
    ),
    Option(
        "applicant_type",
        str,
        None,
        "The applicant's organisation type, for complement mode when it is not in the registry",
        ("partners",),
        choices=ORG_TYPES,
    ),
    Option(
        "consortium",
        str,
        None,
        "Partners already in the consortium",
        ("partners",),
        many=True,
    ),
    Option(
        "org_types",
        str,
        None,
        "Keep only these organisation types",
        ("partners",),
        choices=ORG_TYPES,
        many=True,
        flag="--org-type",
    ),
    Option(
        "region",
        str,
        None,
        "Keep only these regions ('nationwide' for national bodies)",
        ("partners",),
        many=True,
    ),
    Option(
        "exclude",
        str,
        None,
        "Organisations never to suggest (ids, names or aliases)",
        ("partners",),
        many=True,
    ),
    Option(
        "countries",
        str,
        None,
        "Keep only organisations of these countries (ISO 3166 alpha-2 codes, e.g. SE DE); "
        "default: the applicant's country, or every country in transnational mode",
        ("partners",),
        many=True,
        several=True,
    ),
    Option(
        "country",
        str,
        None,
        "The applicant's country (ISO 3166 alpha-2) when the registry does not know the "
        "applicant; partners default to this country",
        ("partners",),
    ),
    Option(
        "transnational",
        int,
        None,
        "Build a consortium spanning at least this many Member States (a Union action); "
        "partners may come from every country",
        ("partners",),
        minimum=2,
        maximum=len(MEMBER_STATES),
    ),
    Option(
        "complement",
        bool,
        False,
        "Favour organisation types the consortium lacks",
        ("partners",),
    ),
    Option(
        "newcomers",
        bool,
        True,
        "Also suggest registry organisations without past AMIF projects",
        ("partners",),
    ),
    Option(
        "layer",
        str,
        None,
        "Only catalogue activities of this layer",
        ("activities",),
        choices=LAYERS,
    ),
)


def options_for(command: str) -> tuple[Option, ...]:
    """The options of one command, in order."""
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}; known: {', '.join(COMMANDS)}")
    return tuple(o for o in OPTIONS if command in o.commands)


def check_options(command: str, values: Mapping[str, Any]) -> None:
    """Check the options of ``command`` before any work is done.

    Raises:
        TypeError: An option of the wrong type (e.g. ``complement="yes"``) or an unknown name.
        ValueError: A value out of range or not one of the choices.
    """
    known = {o.name: o for o in options_for(command)}
    for name, value in values.items():
        if name not in known:
            raise TypeError(f"unknown option {name!r} for {command}; allowed: {', '.join(known)}")
        known[name].check(value)


# --------------------------------------------------------------------------- result fields


@dataclass(frozen=True)
class Field:
    """One field of a result record.

    ``type`` is ``str``, ``int``, ``float``, ``bool`` or the name of another record in
    :data:`RESULTS`; ``many`` makes it a list; ``optional`` allows ``None``.
    """

    name: str
    type: type | str
    many: bool = False
    optional: bool = False
    help: str = ""


#: Every result record: name -> its fields, in the order the library returns them.
RESULTS: dict[str, tuple[Field, ...]] = {
    "ObjectiveScore": (
        Field("code", str),
        Field("name", str),
        Field("probability", float),
        Field("selected", bool),
    ),
    "ActivityScore": (
        Field("code", str),
        Field("layer", str),
        Field("objective", str),
        Field("name", str),
        Field("score", float),
    ),
    "TargetGroupScore": (
        Field("code", str),
        Field("name", str),
        Field("probability", float),
        Field("selected", bool),
    ),
    "Evidence": (Field("text", str), Field("supports", str), Field("score", float)),
    "SimilarProject": (
        Field("id", str),
        Field("name", str),
        Field("country", str, help="The project's country (ISO 3166 alpha-2; EU: Union action)."),
        Field("score", float),
    ),
    "FundGuess": (Field("fund", str), Field("probability", float)),
    "ModelInfo": (Field("embedder", str), Field("version", str)),
    "ClassificationResult": (
        Field("objective", str, help="The best specific objective, SO1..SO4."),
        Field("objectives", "ObjectiveScore", many=True),
        Field("activities", "ActivityScore", many=True),
        Field("target_groups", "TargetGroupScore", many=True),
        Field("evidence", "Evidence", many=True),
        Field("similar_projects", "SimilarProject", many=True),
        Field("in_scope", bool),
        Field("scope_score", float),
        Field("resembles", "FundGuess", optional=True),
        Field(
            "scope_reason",
            str,
            optional=True,
            help="Why the text was not assessed (not a project description); null otherwise.",
        ),
        Field(
            "language",
            str,
            help="The text's language (ISO 639-1, one of the 24 EU languages), detected or "
            "given; 'und' when too short to tell.",
        ),
        Field("model", "ModelInfo"),
    ),
    "RankedActivity": (
        Field("rank", int),
        Field("code", str),
        Field("layer", str),
        Field("objective", str),
        Field("name", str),
        Field("score", float),
    ),
    "PartnerEvidence": (
        Field("project_id", str),
        Field("project_name", str),
        Field("role", str),
        Field("similarity", float),
        Field("relevance", float),
        Field("project_rank", int),
    ),
    "Partner": (
        Field("rank", int),
        Field("id", str),
        Field("name", str),
        Field("type", str, optional=True),
        Field("city", str, optional=True),
        Field("region", str, optional=True),
        Field("country", str, optional=True, help="ISO 3166 alpha-2 code of the organisation."),
        Field("score", float),
        Field("text_score", float),
        Field("network_score", float),
        Field("popularity_score", float),
        Field("profile_score", float),
        Field("complement_score", float),
        Field("n_projects", int),
        Field("evidence", "PartnerEvidence", many=True),
        Field("shared_partners", str, many=True),
        Field("worked_with", str, many=True),
        Field("explanation", str),
    ),
}

#: The record each command returns one of (classify) or a list of (partners, activities).
RESULT_OF = {
    "classify": "ClassificationResult",
    "partners": "Partner",
    "activities": "RankedActivity",
}
