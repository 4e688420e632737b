"""The Python API, the CLI and the service accept the same options and return the same fields.

Every option and result field is defined once in :mod:`amif_match.options`; these tests walk
those definitions and check each interface against them, so that a new option (or a changed
default or limit) that is missing from one interface fails here. No model is loaded.
"""

from __future__ import annotations

import argparse
import inspect

import pytest

from amif_match import matcher
from amif_match.interfaces.cli.app import build_parser
from amif_match.interfaces.cli.arguments import option_values
from amif_match.options import (
    MAX_CHARS,
    OPTIONS,
    RESULT_OF,
    RESULTS,
    check_options,
    options_for,
)
from amif_match.text import MAX_CHARS as TEXT_MAX_CHARS

fastapi = pytest.importorskip("fastapi")
from amif_match.interfaces import models, service  # noqa: E402

API = {
    "classify": matcher.Matcher.classify,
    "partners": matcher.Matcher.suggest_partners,
    "activities": matcher.Matcher.match_activities,
}
REQUESTS = {
    "classify": "ClassifyRequest",
    "partners": "PartnersRequest",
    "activities": "ActivitiesRequest",
}
CASES = [(command, option) for option in OPTIONS for command in option.commands]
IDS = [f"{command}-{option.name}" for command, option in CASES]


def _subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


def _cli_action(command: str, name: str) -> argparse.Action:
    return next(a for a in _subparser(command)._actions if a.dest == name)


@pytest.fixture(scope="module")
def schemas() -> dict:
    return service.create_app().openapi()["components"]["schemas"]


@pytest.mark.parametrize(("command", "option"), CASES, ids=IDS)
def test_python_api_takes_each_option_with_its_default(command, option):
    parameter = inspect.signature(API[command]).parameters[option.name]
    assert parameter.default == option.default


@pytest.mark.parametrize(("command", "option"), CASES, ids=IDS)
def test_cli_takes_each_option_with_its_default_and_limits(command, option):
    action = _cli_action(command, option.name)
    assert option.cli_flag in action.option_strings
    assert action.default == option.default
    if option.choices and not option.many:
        assert tuple(action.choices) == option.choices
    if option.maximum is not None:
        parse = _subparser(command).parse_args
        too_big = str(option.type(option.maximum) + 1)
        assert getattr(parse([option.cli_flag, str(option.maximum)]), option.name) == option.maximum
        with pytest.raises(SystemExit):
            parse([option.cli_flag, too_big])


@pytest.mark.parametrize(("command", "option"), CASES, ids=IDS)
def test_service_takes_each_option_with_its_default_and_limits(schemas, command, option):
    prop = schemas[REQUESTS[command]]["properties"][option.name]
    assert prop.get("default") == option.default
    text = str(prop)
    if option.maximum is not None:
        assert f"'maximum': {option.maximum}" in text and f"'minimum': {option.minimum}" in text
    for choice in option.choices or ():
        assert repr(choice) in text


@pytest.mark.parametrize("command", list(REQUESTS))
def test_no_interface_has_an_option_the_definitions_lack(schemas, command):
    names = {o.name for o in options_for(command)}
    assert set(schemas[REQUESTS[command]]["properties"]) - {"text"} == names
    api = set(inspect.signature(API[command]).parameters) - {"self", "text", "max_chars"}
    assert api == names
    cli = {a.dest for a in _subparser(command)._actions if a.dest in {o.name for o in OPTIONS}}
    assert cli == names


LIMITED = [(c, o) for c, o in CASES if o.maximum is not None or o.choices]


@pytest.mark.parametrize(("command", "option"), LIMITED, ids=[f"{c}-{o.name}" for c, o in LIMITED])
def test_python_api_rejects_values_over_the_limit(command, option):
    bad = option.type(option.maximum) + 1 if option.maximum is not None else "nonsense"
    with pytest.raises(ValueError, match=option.name):
        check_options(command, {option.name: bad})


def test_one_text_limit():
    assert MAX_CHARS == TEXT_MAX_CHARS == service.MAX_TEXT_CHARS == 200_000
    request = models.ClassifyRequest.model_json_schema()
    assert request["properties"]["text"]["maxLength"] == MAX_CHARS


@pytest.mark.parametrize("record", list(RESULTS))
def test_service_response_models_list_every_result_field_and_no_extras(schemas, record):
    schema = schemas[record]
    assert list(schema["properties"]) == [f.name for f in RESULTS[record]]
    assert schema.get("additionalProperties") is False


def test_each_command_returns_a_defined_record(schemas):
    assert schemas["ActivitiesResult"]["properties"]["activities"]["items"]["$ref"].endswith(
        RESULT_OF["activities"]
    )
    assert schemas["PartnersResult"]["properties"]["partners"]["items"]["$ref"].endswith(
        RESULT_OF["partners"]
    )


# --------------------------------------------------------------------------- countries


def test_partner_country_options_are_in_every_interface(schemas):
    """countries, country and transnational: the same names and defaults everywhere."""
    names = ("countries", "country", "transnational")
    api = inspect.signature(API["partners"]).parameters
    request = schemas["PartnersRequest"]["properties"]
    for name in names:
        assert api[name].default is None
        assert request[name].get("default") is None
        assert _cli_action("partners", name).default is None
    parse = _subparser("partners").parse_args
    args = parse(
        ["text", "--countries", "SE", "DE", "--countries", "FI;EE", "--transnational", "3"]
    )
    assert option_values(args, "partners")["countries"] == ["SE", "DE", "FI", "EE"]
    assert args.transnational == 3
    assert parse(["--country", "se", "text"]).country == "se"  # checked by PartnerQuery
    with pytest.raises(SystemExit):
        parse(["text", "--transnational", "1"])
    assert models.PartnersRequest(text="x", countries=["SE"], transnational=27).transnational
    with pytest.raises(ValueError, match="transnational"):
        models.PartnersRequest(text="x", transnational=1)


def test_partner_and_similar_project_results_carry_the_country(schemas):
    assert "country" in schemas["Partner"]["properties"]
    assert "country" in schemas["SimilarProject"]["properties"]
