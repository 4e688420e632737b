"""Input validation and normalisation (no model needed)."""

from __future__ import annotations

import pytest

from amif_match.errors import InputError
from amif_match.text import MAX_CHARS, detect_language, normalise, split_sentences, strip_html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hankkeessa tarjotaan vapaaehtoisen paluun neuvontaa ja tukea.", "fi"),
        ("Paluuneuvonnan kehittäminen", "fi"),
        ("Kotoutumiskoulutusta maahanmuuttajanaisille", "fi"),
        ("Projektet stöder ensamkommande barn och unga i Österbotten.", "sv"),
        ("Språkutbildning för invandrare", "sv"),
        ("The project develops return counselling for rejected asylum seekers.", "en"),
        ("return counselling", "en"),
        ("Das Projekt unterstützt Geflüchtete bei der Arbeitssuche.", "de"),
        ("Το έργο στηρίζει τους πρόσφυγες στην αναζήτηση εργασίας.", "el"),
    ],
)
def test_language_guess(text, expected):
    assert detect_language(text) == expected


def test_mixed_language_text_takes_the_majority():
    text = (
        "Hankkeessa kehitetään kotoutumista tukevaa ohjausta ja neuvontaa kunnassa. "
        "Toiminta on suunnattu maahanmuuttajille ja heidän perheilleen. (Summary: guidance.)"
    )
    assert detect_language(text) == "fi"


def test_html_is_stripped_and_paragraphs_kept():
    raw = (
        "<html><head><style>p{}</style></head><body><h1>Otsikko</h1><p>Eka lause.</p>"
        "<p>Toinen &amp; kolmas.</p><script>alert(1)</script></body></html>"
    )
    text, changed = strip_html(raw)
    assert changed
    assert "alert" not in text and "p{}" not in text
    doc = normalise(raw)
    assert doc.had_html
    assert doc.sentences == ("Otsikko", "Eka lause.", "Toinen & kolmas.")
    assert doc.original == raw  # the caller's text is kept unchanged


def test_plain_text_is_not_changed_by_html_stripping():
    text = "Kustannukset < 5000 euroa ja tulos > odotusten."
    assert strip_html(text) == (text, False)


def test_sentence_split_handles_abbreviations_bullets_and_long_sentences():
    text = (
        "Hanke tukee mm. perheitä. Esim. kerhot jatkuvat.\n"
        "- ensimmäinen kohta\n- toinen kohta\n\n"
        "Projektet stöder t.ex. unga. Nytt stycke här."
    )
    assert split_sentences(text) == [
        "Hanke tukee mm. perheitä.",
        "Esim. kerhot jatkuvat.",
        "ensimmäinen kohta",
        "toinen kohta",
        "Projektet stöder t.ex. unga.",
        "Nytt stycke här.",
    ]
    long = " ".join(["sana"] * 200)
    pieces = split_sentences(long, max_words=80)
    assert [len(p.split()) for p in pieces] == [80, 80, 40]


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("", InputError, "empty"),
        ("   \n\t", InputError, "empty"),
        (None, TypeError, "must be a str, got NoneType"),
        (42, TypeError, "got int"),
        (b"bytes", TypeError, "decode"),
        ("<p> </p>", InputError, "no words after removing HTML"),
        ("x" * (MAX_CHARS + 1), InputError, f"limit is {MAX_CHARS:,}"),
    ],
)
def test_bad_input(value, error, message):
    with pytest.raises(error, match=message):
        normalise(value)


def test_unknown_language_override_is_rejected():
    with pytest.raises(InputError, match="language must be one of bg, cs, da, de"):
        normalise("Kotoutuminen", language="xx")


def test_language_override_wins():
    assert normalise("Kotoutuminen", language="sv").language == "sv"


def test_very_long_text_is_split_without_blowing_up():
    paragraph = "Hankkeessa kehitetään kotoutumisen palveluja kunnassa. " * 2000  # ~110 000 chars
    doc = normalise(paragraph)
    assert len(doc.text) > 100_000
    assert len(doc.sentences) == 2000


def test_hard_wrapped_lines_are_joined_but_headings_stay():
    text = (
        "Tausta\n"
        "Hankkeessa kehitetään kotoutumisen\n"
        "palveluja kunnassa ja\n"
        "järjestöissä. Toinen lause alkaa tästä.\n\n"
        "uusi kappale pienellä kirjaimella."
    )
    assert split_sentences(text) == [
        "Tausta",
        "Hankkeessa kehitetään kotoutumisen palveluja kunnassa ja järjestöissä.",
        "Toinen lause alkaa tästä.",
        "uusi kappale pienellä kirjaimella.",
    ]
