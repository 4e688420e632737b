"""The page at ``/``: server-side rendering, and a real browser (headless Chromium driven by
Selenium) against a real uvicorn server with the real model.

Chromium and chromium-driver come from Debian's packages (``apt-get install chromium
chromium-driver``; ``.ci/run`` installs them when they are missing).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import fpdf
import httpx
import pytest
from fastapi.testclient import TestClient
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from amif_match.interfaces.cli.demo import SAMPLE_PROPOSAL
from amif_match.interfaces.page import choose_language, translations
from amif_match.interfaces.service import create_app
from servers import serve_in_thread

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WAIT = 90  # seconds for a model answer on a busy 2-core machine
RETURN_TEXT = (
    "Hankkeessa tarjotaan vapaaehtoisen paluun neuvontaa ja paluun jälkeistä "
    "uudelleenkotoutumisen tukea kielteisen turvapaikkapäätöksen saaneille."
)
SHORT_INTEGRATION = "Suomen kielen opetusta ja työelämäohjausta maahanmuuttajanaisille."


# --------------------------------------------------------------------------- server side


TOKEN = "page-test-token"


@pytest.fixture(scope="module")
def bare_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app without its lifespan: the page renders without the model."""
    store = tmp_path_factory.mktemp("feedback") / "feedback.sqlite"
    yield TestClient(create_app(feedback_store=store))


@pytest.mark.parametrize(
    ("header", "query", "lang", "button"),
    [
        ("fi-FI,fi;q=0.9,en;q=0.8", "", "fi", "Luokittele"),
        ("sv-FI,sv;q=0.9", "", "sv", "Klassificera"),
        ("en-GB,en;q=0.9", "", "en", "Classify"),
        ("de-DE,de;q=0.9", "", "en", "Classify"),
        ("en;q=0.5,sv;q=0.8", "", "sv", "Klassificera"),
        ("fi-FI", "?lang=sv", "sv", "Klassificera"),
        ("sv", "?lang=en", "en", "Classify"),
        ("fi", "?lang=xx", "fi", "Luokittele"),
    ],
)
def test_page_renders_in_the_chosen_language(
    bare_client: TestClient, header: str, query: str, lang: str, button: str
) -> None:
    r = bare_client.get(f"/{query}", headers={"Accept-Language": header})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-language"] == lang
    assert f'<html lang="{lang}">' in r.text
    assert f">{button}</button>" in r.text
    strings = translations()[lang]
    for key in ("clear", "results", "partners", "download_csv", "feedback"):
        assert f">{strings[key]}<" in r.text
    assert "<built-in" not in r.text
    assert "default-src 'none'" in r.headers["content-security-policy"]


def test_page_is_self_contained_and_escaped(bare_client: TestClient) -> None:
    text = bare_client.get("/").text
    assert "http://" not in text.replace("http://127.0.0.1", "") and "https://" not in text
    assert "<script>" not in text  # the only scripts: our file and a JSON data block
    for name, kind in (("page.js", "javascript"), ("page.css", "css")):
        r = bare_client.get(f"/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
    assert bare_client.get("/static/page.py").status_code == 404
    assert bare_client.get("/static/..%2Fpage.py").status_code == 404
    assert "/" not in bare_client.get("/openapi.json").json()["paths"]


def test_translations_cover_every_key() -> None:
    strings = translations()
    assert set(strings) == {"fi", "sv", "en"}
    assert set(strings["fi"]) == set(strings["sv"]) == set(strings["en"])
    assert all(v.strip() for lang in strings.values() for v in lang.values())
    assert choose_language(None, None) == "en"
    assert choose_language(None, "sv;q=0.1, fi;q=0.2") == "fi"
    assert choose_language(None, "fi;q=bad, sv") == "sv"


# --------------------------------------------------------------------------- real browser


@pytest.fixture(scope="module")
def server(matcher: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn serving the real model in a thread, on a socket bound here (no port race);
    feedback goes to a store of its own and needs :data:`TOKEN`."""
    import uvicorn

    store = tmp_path_factory.mktemp("feedback") / "feedback.sqlite"
    app = create_app(matcher, token=TOKEN, feedback_store=store)
    with serve_in_thread(uvicorn.Config(app, log_level="warning")) as url:
        yield url


def chrome(download_dir: Path, width: int = 1366, height: int = 900) -> WebDriver:
    """Headless Chromium from the system's packages."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--lang=en-US",
    ):
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(download_dir),
            "download.prompt_for_download": False,
            "intl.accept_languages": "fi-FI,fi",
        },
    )
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[WebDriver]:
    driver = chrome(downloads)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: WebDriver, condition: Any, timeout: float = WAIT) -> Any:
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)
    except TimeoutException:
        error = driver.find_element(By.ID, "error").text
        status = driver.find_element(By.ID, "status").text
        raise AssertionError(f"timed out; error={error!r} status={status!r}") from None


def results_shown(driver: WebDriver) -> bool:
    return driver.find_element(By.ID, "results").is_displayed() and bool(
        driver.find_elements(By.CSS_SELECTOR, "#objectives li")
    )


def partners_shown(driver: WebDriver) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, "#partners > li")


def open_page(driver: WebDriver, server: str, lang: str = "") -> None:
    driver.get(f"{server}/{'?lang=' + lang if lang else ''}")
    driver.execute_script("localStorage.clear()")
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def classify_text(driver: WebDriver, text: str) -> None:
    box = driver.find_element(By.ID, "text")
    driver.execute_script("arguments[0].value = arguments[1]", box, text)
    driver.find_element(By.ID, "classify").click()
    wait_for(driver, results_shown)


def first_objective(driver: WebDriver) -> str:
    return driver.find_element(By.CSS_SELECTOR, "#objectives li").get_attribute("data-code")


def test_finnish_text_shows_so2_with_evidence_highlighted(browser: WebDriver, server: str) -> None:
    open_page(browser, server)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fi"  # browser
    classify_text(browser, SAMPLE_PROPOSAL)
    assert first_objective(browser) == "SO2"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#objectives li")) == 4
    marks = browser.find_elements(By.CSS_SELECTOR, "#highlighted mark:not(.quote)")
    assert marks, "no evidence sentence was highlighted in the text"
    assert any("so-SO2" in m.get_attribute("class") for m in marks)
    assert all(m.text and m.text in SAMPLE_PROPOSAL for m in marks)
    assert SAMPLE_PROPOSAL[:40] in browser.find_element(By.ID, "highlighted").text
    assert browser.find_elements(By.CSS_SELECTOR, "#activities li")
    assert browser.find_elements(By.CSS_SELECTOR, "#target-groups li.selected")
    links = browser.find_elements(By.CSS_SELECTOR, "#similar a[href^='http']")
    assert links and links[0].get_attribute("rel") == "noopener noreferrer"
    wait_for(browser, partners_shown)
    first = partners_shown(browser)[0]
    assert first.find_element(By.CSS_SELECTOR, ".explanation").text.strip()


def test_partner_filters_match_the_api(browser: WebDriver, server: str) -> None:
    if not browser.find_elements(By.CSS_SELECTOR, "#partners > li"):
        open_page(browser, server)
        classify_text(browser, SAMPLE_PROPOSAL)
        wait_for(browser, partners_shown)
    browser.find_element(By.CSS_SELECTOR, "input[name=org_types][value=ngo]").click()
    browser.find_element(By.ID, "countries").send_keys("fi")
    before = partners_shown(browser)[0]
    browser.find_element(By.ID, "suggest").click()
    wait_for(browser, lambda d: partners_shown(d) and partners_shown(d)[0] != before)
    shown = [li.get_attribute("data-id") for li in partners_shown(browser)]
    body = {"text": SAMPLE_PROPOSAL, "k": 10, "org_types": ["ngo"], "countries": ["FI"]}
    expected = httpx.post(f"{server}/partners", json=body, timeout=WAIT).json()["partners"]
    assert shown == [p["id"] for p in expected]
    assert all(p["type"] == "ngo" and p["country"] == "FI" for p in expected)
    # transnational: partners from several countries
    browser.find_element(By.CSS_SELECTOR, "input[name=org_types][value=ngo]").click()
    browser.find_element(By.ID, "countries").clear()
    browser.find_element(By.ID, "transnational").send_keys("3")
    before = partners_shown(browser)[0]
    browser.find_element(By.ID, "suggest").click()
    wait_for(browser, lambda d: partners_shown(d) and partners_shown(d)[0] != before)
    metas = [li.find_element(By.CSS_SELECTOR, ".meta").text for li in partners_shown(browser)]
    assert len({m.split(" · ")[1].rsplit(", ", 1)[-1] for m in metas}) >= 2


def test_document_text_endpoint(server: str) -> None:
    files = {"file": ("hakemus.xyz", b"abc", "application/octet-stream")}
    r = httpx.post(f"{server}/page/text", files=files, timeout=WAIT)
    assert r.status_code == 422 and "hakemus.xyz" in r.json()["detail"]
    files = {"file": ("a.txt", b"Hei maailma", "text/plain")}
    r = httpx.post(f"{server}/page/text", files=files, timeout=WAIT)
    assert r.json() == {"name": "a.txt", "text": "Hei maailma"}
    context = httpx.get(f"{server}/page/context", timeout=WAIT).json()
    assert context["sources"] and "Uusimaa" in context["regions"]


def make_docx(path: Path, paragraphs: list[str]) -> Path:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    document.save(str(path))
    return path


def make_pdf(path: Path, paragraphs: list[str]) -> Path:
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for paragraph in paragraphs:
        pdf.multi_cell(0, 8, paragraph, new_x="LMARGIN", new_y="NEXT")
    path.write_bytes(bytes(pdf.output()))
    return path


def upload(driver: WebDriver, path: Path) -> None:
    driver.execute_script("document.getElementById('results').hidden = true")
    driver.find_element(By.ID, "file").send_keys(str(path))
    driver.find_element(By.ID, "classify").click()
    wait_for(driver, results_shown)


def test_docx_and_pdf_uploads(browser: WebDriver, server: str, tmp_path: Path) -> None:
    open_page(browser, server, "en")
    upload(browser, make_docx(tmp_path / "hakemus.docx", ["Hankekuvaus", SAMPLE_PROPOSAL]))
    assert first_objective(browser) == "SO2"
    assert "Pirkanmaalle" in browser.find_element(By.ID, "text").get_attribute("value")
    assert browser.find_elements(By.CSS_SELECTOR, "#highlighted mark")
    upload(browser, make_pdf(tmp_path / "paluu.pdf", ["Hankekuvaus", RETURN_TEXT]))
    assert first_objective(browser) == "SO3"
    assert "vapaaehtoisen paluun" in browser.find_element(By.ID, "text").get_attribute("value")
    # a file that is not a document: a clear error naming it, nothing classified
    broken = tmp_path / "rikki.pdf"
    broken.write_bytes(b"%PDF-1.7 not really")
    browser.find_element(By.ID, "file").send_keys(str(broken))
    browser.find_element(By.ID, "classify").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "rikki.pdf" in browser.find_element(By.ID, "error").text
    assert str(tmp_path) not in browser.find_element(By.ID, "error").text


def test_switch_to_swedish(browser: WebDriver, server: str) -> None:
    open_page(browser, server, "fi")
    assert browser.find_element(By.ID, "classify").text == "Luokittele"
    classify_text(browser, SHORT_INTEGRATION)
    fi_name = browser.find_element(By.CSS_SELECTOR, "#objectives li .name").text
    Select(browser.find_element(By.ID, "lang")).select_by_value("sv")
    sv = translations()["sv"]
    assert browser.find_element(By.ID, "classify").text == sv["classify"]
    assert browser.find_element(By.ID, "partners-heading").text == sv["partners"]
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "sv"
    assert "lang=sv" in browser.current_url
    sv_name = browser.find_element(By.CSS_SELECTOR, "#objectives li .name").text
    assert sv_name != fi_name and sv_name == "Laglig migration och integration"
    # the choice is remembered: the page opened again without ?lang= is Swedish
    browser.get(server + "/")
    wait_for(browser, lambda d: d.find_element(By.ID, "classify").text == sv["classify"], 10)


def test_keyboard_only(browser: WebDriver, server: str) -> None:
    open_page(browser, server, "en")
    # a freshly opened page: the first Tab goes to the first control

    def keys(*typed: str) -> None:  # to whatever has the focus, as a person types
        ActionChains(browser).send_keys(*typed).perform()

    seen: list[str] = []

    def tab_to(element_id: str, limit: int) -> int:
        for presses in range(1, limit + 1):
            keys(Keys.TAB)
            if browser.switch_to.active_element.get_attribute("id") == element_id:
                return presses
            seen.append(browser.switch_to.active_element.get_attribute("id"))
        raise AssertionError(f"#{element_id} not reached with {limit} Tab presses: {seen}")

    tab_to("text", 3)  # the language choice, then the text
    keys(SHORT_INTEGRATION)
    tab_to("classify", 3)  # the document chooser, then the button
    outline = browser.switch_to.active_element.value_of_css_property("outline-style")
    assert outline != "none", "the focused button shows no focus outline"
    keys(Keys.ENTER)
    wait_for(browser, results_shown)
    assert first_objective(browser) == "SO2"
    assert browser.switch_to.active_element.get_attribute("id") == "results-heading"
    # every control has a label
    unlabelled = browser.execute_script(
        "return [...document.querySelectorAll('input, select, textarea')]"
        ".filter((c) => !(c.labels && c.labels.length)).map((c) => c.id || c.name)"
    )
    assert unlabelled == []
    assert not browser.find_elements(By.CSS_SELECTOR, "div[onclick], span[onclick]")


def _downloaded(folder: Path, name: str) -> Path:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        path = folder / name
        if path.exists() and path.stat().st_size and not list(folder.glob("*.crdownload")):
            return path
        time.sleep(0.2)
    raise AssertionError(f"{name} was not downloaded: {sorted(p.name for p in folder.iterdir())}")


def test_downloads_json_and_csv(browser: WebDriver, server: str, downloads: Path) -> None:
    open_page(browser, server, "en")
    classify_text(browser, SAMPLE_PROPOSAL)
    wait_for(browser, partners_shown)
    browser.find_element(By.ID, "download-json").click()
    data = json.loads(_downloaded(downloads, "amif-match-result.json").read_text("utf-8"))
    assert data["text"] == SAMPLE_PROPOSAL
    assert data["classification"]["objective"] == "SO2"
    assert data["partners"] and data["partners"][0]["rank"] == 1
    browser.find_element(By.ID, "download-csv").click()
    raw = _downloaded(downloads, "amif-match-result.csv").read_text("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(raw)))
    sections = {r["section"] for r in rows}
    assert {"objective", "target_group", "activity", "evidence", "partner"} <= sections
    assert next(r for r in rows if r["section"] == "objective")["code"] == "SO2"


def test_correct_a_result_and_see_it_listed(browser: WebDriver, server: str) -> None:
    open_page(browser, server, "en")
    classify_text(browser, RETURN_TEXT)
    assert first_objective(browser) == "SO3"
    assert Select(browser.find_element(By.ID, "fb-objective")).first_selected_option.text == "SO3"
    Select(browser.find_element(By.ID, "fb-objective")).select_by_value("SO1")
    browser.find_element(By.CSS_SELECTOR, "input[name=fb_target_groups][value=women]").click()
    browser.find_element(By.ID, "fb-note").send_keys("page test: really about reception")
    browser.find_element(By.ID, "fb-reviewer").send_keys("A. Virtanen")
    status = browser.find_element(By.ID, "feedback-status")
    browser.find_element(By.ID, "send-feedback").click()  # no token: refused, and said so
    wait_for(browser, lambda d: status.text.startswith("Error"), 20)
    browser.find_element(By.ID, "fb-token").send_keys(TOKEN)
    browser.find_element(By.ID, "send-feedback").click()
    wait_for(browser, lambda d: status.text == translations()["en"]["feedback_recorded"], 20)
    # The list refreshes with its own request after the status line changes.
    items = wait_for(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#feedback-list li.feedback-item"),
        20,
    )
    assert "SO1" in items[0].text and "A. Virtanen" in items[0].text
    assert "really about reception" in items[0].text
    headers = {"Authorization": f"Bearer {TOKEN}"}
    stored = httpx.get(f"{server}/feedback", headers=headers, timeout=WAIT).json()["feedback"]
    record = stored[-1]
    assert record["text"] == RETURN_TEXT and record["objective"] == "SO1"
    assert "women" in record["target_groups"] and record["predicted"] == "SO3"
    assert record["reviewer"] == "A. Virtanen"
