"""``amif-match demo``: a sample Finnish proposal classified, then partners."""

from __future__ import annotations

import argparse
import shutil
from typing import Any

from amif_match.interfaces.cli.classify import print_classification
from amif_match.interfaces.cli.common import (
    EXIT_OK,
    add_command,
    dump_json,
    get_matcher,
    say,
    wrap_lines,
)
from amif_match.interfaces.cli.partners import partners_frame, print_partners

#: The proposal ``amif-match demo`` classifies (fictional, written like a real application).
SAMPLE_PROPOSAL = (
    "Hankkeen tavoitteena on tukea Pirkanmaalle muuttaneiden maahanmuuttajanaisten kotoutumista "
    "ja pääsyä koulutukseen ja työelämään. Moni kotona pieniä lapsia hoitava äiti jää "
    "kotoutumiskoulutuksen ja työvoimapalvelujen ulkopuolelle, eikä hänellä ole riittävää suomen "
    "kielen taitoa asioida viranomaisten kanssa. Hankkeessa järjestetään suomen kielen ja "
    "yhteiskuntatiedon ryhmiä, joiden aikana lapsille on tarjolla lastenhoito, sekä "
    "henkilökohtaista ohjausta, työpaikkavierailuja ja vertaisryhmiä. Toimintaa toteutetaan "
    "yhdessä kunnan kotoutumispalvelujen, oppilaitosten ja maahanmuuttajajärjestöjen kanssa. "
    "Lisäksi koulutetaan kuntien ja järjestöjen työntekijöitä tunnistamaan naisten kotoutumisen "
    "esteitä ja kehitetään monialaisen yhteistyön malli, joka vakiinnutetaan osaksi kunnan "
    "kotoutumisohjelmaa. Hanke toteutetaan vuosina 2025–2027 Tampereella ja Nokialla."
)

#: The last line of ``amif-match demo``: how to see the same in a browser.
PAGE_HINT = (
    "Open the page: amif-match serve (needs the [serve] extra), then http://127.0.0.1:8000/ "
    "in a browser"
)


def run(args: argparse.Namespace) -> int:
    """Classify the sample proposal and suggest five partners."""
    text = SAMPLE_PROPOSAL
    matcher = get_matcher()
    result = matcher.classify(text, k=10)
    partners = partners_frame(text, {"k": 5})
    if args.json:
        from amif_match.partners import to_records

        records = to_records(partners)
        say(dump_json({"text": text, "classification": result.to_dict(), "partners": records}))
        return EXIT_OK
    width = shutil.get_terminal_size((120, 24)).columns
    say("Sample proposal (fi):")
    for line in wrap_lines(text, width - 4):
        say(f"  {line}")
    say("")
    print_classification(result, k=5, evidence=3)
    say("\nSuggested partners")
    print_partners(partners)
    say(f"\n{PAGE_HINT}")
    return EXIT_OK


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` sub-command to the ``amif-match`` parser."""
    p = add_command(
        sub,
        parents,
        "demo",
        help="classify a sample Finnish proposal and suggest partners",
        description="The main job on a built-in sample proposal: classification, then partners.",
        epilog="Examples:\n  amif-match demo\n  amif-match demo --json\n\n",
    )
    p.set_defaults(func=run)
