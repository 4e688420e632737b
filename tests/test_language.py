"""Language detection in every EU official language (issue 12) and where the language goes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from amif_match.errors import InputError
from amif_match.text import LANGUAGES, TEXT_LANGUAGES, detect_language, normalise

# One sentence per EU language, written for these tests (not taken from the corpus).
SENTENCES = {
    "bg": "Проектът предлага езикови курсове и психологическа подкрепа за търсещите закрила "
    "семейства в София.",
    "cs": "Projekt poskytuje právní poradenství a kurzy češtiny pro cizince, kteří přicházejí "
    "do Brna.",
    "da": "Projektet tilbyder danskundervisning og hjælp til boligsøgning for flygtninge i "
    "Aarhus Kommune.",
    "de": "Das Projekt begleitet geflüchtete Frauen bei der Suche nach einer Ausbildung und "
    "einer Wohnung.",
    "el": "Το έργο παρέχει στέγαση και νομική συνδρομή σε ασυνόδευτους ανήλικους που φτάνουν "
    "στα νησιά.",
    "en": "The project helps newly arrived families find housing, schools and language courses "
    "in the city.",
    "es": "El proyecto ofrece clases de español y orientación laboral a las personas refugiadas "
    "en Madrid.",
    "et": "Projekti eesmärk on toetada uusi sisserändajaid eesti keele õppimisel ja töö "
    "leidmisel Tartus.",
    "fi": "Hankkeessa järjestetään suomen kielen opetusta ja työelämään valmentavaa ohjausta "
    "maahanmuuttajanaisille.",
    "fr": "Le projet accompagne les demandeurs d'asile dans leurs démarches administratives et "
    "leur accès aux soins.",
    "ga": "Cuireann an tionscadal ranganna Béarla agus tacaíocht do theaghlaigh dídeanaithe ar "
    "fáil i gCorcaigh.",
    "hr": "Projekt pruža pravnu pomoć i tečajeve hrvatskog jezika osobama pod međunarodnom "
    "zaštitom u Zagrebu.",
    "hu": "A projekt magyar nyelvórákat és munkaerőpiaci tanácsadást nyújt a nemzetközi "
    "védelemben részesülőknek.",
    "it": "Il progetto offre corsi di lingua italiana e orientamento al lavoro per i titolari "
    "di protezione internazionale.",
    "lt": "Projektas teikia lietuvių kalbos kursus ir teisines konsultacijas prieglobstį "
    "gavusiems užsieniečiams.",
    "lv": "Projekts piedāvā latviešu valodas kursus un juridiskas konsultācijas patvēruma "
    "meklētājiem Rīgā.",
    "mt": "Il-proġett joffri korsijiet tal-lingwa Maltija u appoġġ lill-persuni li qed "
    "ifittxu l-ażil f'Malta.",
    "nl": "Het project begeleidt statushouders bij het vinden van werk en het leren van de "
    "Nederlandse taal.",
    "pl": "Projekt zapewnia cudzoziemcom bezpłatne kursy języka polskiego oraz pomoc w "
    "znalezieniu pracy.",
    "pt": "O projeto apoia os migrantes recém-chegados na aprendizagem da língua portuguesa e "
    "no acesso ao emprego.",
    "ro": "Proiectul oferă cursuri de limba română și consiliere juridică solicitanților de "
    "azil din Timișoara.",
    "sk": "Projekt poskytuje cudzincom kurzy slovenského jazyka a pomoc pri hľadaní "
    "zamestnania v Bratislave.",
    "sl": "Projekt nudi tečaje slovenskega jezika in pravno svetovanje prosilcem za mednarodno "
    "zaščito v Ljubljani.",
    "sv": "Projektet erbjuder språkundervisning och samhällsorientering för nyanlända kvinnor "
    "i Umeå.",
}

GERMAN = (
    "Das Projekt bietet Deutschkurse, Beratung und Begleitung für geflüchtete Familien, damit "
    "sie nach der Ankunft schnell eine Wohnung, einen Kitaplatz und Arbeit finden."
)


def test_every_eu_language_has_a_sentence():
    assert set(SENTENCES) == set(TEXT_LANGUAGES)
    assert len(TEXT_LANGUAGES) == 24
    assert set(LANGUAGES) < set(TEXT_LANGUAGES)


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_each_eu_language_is_detected(language):
    assert detect_language(SENTENCES[language]) == language
    assert normalise(SENTENCES[language]).language == language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Finnish and Estonian share words and endings.
        ("Hankkeen tavoitteena on tukea maahanmuuttajien työllistymistä.", "fi"),
        ("Projekti eesmärk on toetada sisserändajate tööle saamist.", "et"),
        # Swedish and Danish.
        ("Projektet stöder nyanlända familjer med bostad och arbete.", "sv"),
        ("Projektet støtter nyankomne familier med bolig og arbejde.", "da"),
    ],
)
def test_close_languages_are_told_apart(text, expected):
    assert detect_language(text) == expected


def test_norwegian_is_not_taken_for_swedish():
    # Norwegian is not an EU language: its nearest EU neighbour is Danish, never Swedish.
    text = "Prosjektet skal styrke integreringen av innvandrere gjennom arbeid og språkopplæring."
    assert detect_language(text) != "sv"


@pytest.mark.parametrize(
    "text", ["2023–2024", "12 345,00 €", "AMIF 2024", "Projekt", "OK", "FAMI", "Integration", ""]
)
def test_unsure_texts_are_undetermined(text):
    assert detect_language(text) == "und"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Short titles of the catalogue languages: the stopword guesser confirms py3langid.
        ("Paluuneuvonnan kehittäminen", "fi"),
        ("Språkutbildning för invandrare", "sv"),
        ("return counselling", "en"),
        ("Kotoutuminen", "fi"),  # one word, but a Finnish ending confirms it
        ("asylum seekers", "und"),  # English-looking, but no function word confirms it
    ],
)
def test_short_titles(text, expected):
    assert detect_language(text) == expected


def test_any_eu_language_can_be_forced():
    doc = normalise("Das Projekt unterstützt Geflüchtete.", language="de")
    assert doc.language == "de"
    assert normalise("Kotoutuminen", language="el").language == "el"


def test_an_unknown_language_names_the_accepted_codes():
    with pytest.raises(ValueError, match="language must be one of bg, cs, da, de, el") as caught:
        normalise("Kotoutuminen", language="xx")
    assert isinstance(caught.value, InputError)
    assert all(code in str(caught.value) for code in TEXT_LANGUAGES)
    assert "'xx'" in str(caught.value)


def test_the_detector_is_loaded_lazily():
    code = "import sys, amif_match, amif_match.text; print('py3langid' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "False"


def test_the_detector_keeps_only_the_eu_tables_and_answers_as_py3langid_does():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from amif_match.text.language import _identifier

    ours = _identifier()
    assert sorted(ours.nb_classes) == sorted(TEXT_LANGUAGES)
    assert ours.nb_ptc.shape[1] == len(TEXT_LANGUAGES)  # the 97-language tables are gone
    reference = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    reference.set_languages(TEXT_LANGUAGES)
    texts = [*SENTENCES.values(), "AMIF", "Kotoutumiskoulutus maahanmuuttajanaisille", "<b>"]
    for text in texts:
        language, confidence = ours.classify(text)
        expected, expected_confidence = reference.classify(text)
        assert language == expected and confidence == pytest.approx(expected_confidence)


def test_options_accept_every_eu_language_but_catalogue_names_stay_fi_sv_en():
    from amif_match.interfaces.cli.catalogue import LANGUAGES as CATALOGUE_LANGUAGES
    from amif_match.options import check_options, options_for

    language = next(o for o in options_for("classify") if o.name == "language")
    assert language.choices == TEXT_LANGUAGES
    check_options("classify", {"language": "pl"})
    with pytest.raises(ValueError, match="language must be one of"):
        check_options("classify", {"language": "no"})
    assert CATALOGUE_LANGUAGES == ("fi", "sv", "en")


def test_languages_without_catalogue_texts_meet_the_neutral_catalogue(matcher):
    catalogue = matcher.catalogue_
    for language in ("de", "el", "pl", "und"):
        assert catalogue.for_language(language) is catalogue
    # Finnish has its own catalogue texts; German is never compared as Finnish.
    assert catalogue.for_language("fi") is not catalogue


def test_a_german_proposal_reports_german(matcher):
    result = matcher.classify(GERMAN)
    assert result.language == "de"
    assert result.to_dict()["language"] == "de"
    # Names in English (there are no German catalogue texts), and the same answer as for any
    # other language without catalogue texts: compared with the language-neutral catalogue.
    code = result.objective
    assert result.objectives[0]["name"] == matcher.corpus_.text("objectives", code, "name", "en")
    as_greek = matcher.classify(GERMAN, language="el")
    assert as_greek.language == "el"
    assert as_greek.objectives == result.objectives
    assert as_greek.activities == result.activities


def test_a_batch_reports_each_texts_language(matcher):
    frame = matcher.classify_many([SENTENCES["el"], SENTENCES["pl"], SENTENCES["fi"]], k=3)
    assert list(frame["language"]) == ["el", "pl", "fi"]
