"""Documents in (issue 14, point 1): .docx, .pdf, .odt, .txt, .md and .html files, everywhere text
is accepted: :func:`amif_match.text.read_document`, :meth:`Matcher.classify_file`, the CLI
(files and folders) and ``POST /classify/file`` on the service.

Every document here is made by the test itself with a real writer: python-docx writes .docx,
odfpy writes .odt, fpdf2 typesets a PDF with a text layer (a PDF of a drawn rectangle has
none), and pypdf encrypts one. Every error names the file.
"""

from __future__ import annotations

import codecs
import io
import json
import sys
import zipfile
from pathlib import Path

# The dev extra installs the readers and fpdf2 (which writes the test PDFs); a missing one is
# an error here, not a skip.
import docx
import fpdf
import odf  # noqa: F401
import pypdf
import pytest

from amif_match.errors import DocumentError, InputError, MissingDependencyError
from amif_match.text import MAX_CHARS, check_text, document_text, read_document
from amif_match.text import documents as documents_module

# A Finnish integration proposal (specific objective SO2), in paragraphs.
INTEGRATION = [
    "Hankkeen kuvaus",
    "Hankkeessa järjestetään kotoutumiskoulutusta ja suomen kielen opetusta "
    "maahanmuuttajanaisille, jotka ovat kotona lasten kanssa.",
    "Koulutukseen sisältyy työelämävalmiuksia, ohjausta ja neuvontaa sekä vertaistukiryhmiä. "
    "Tavoitteena on vahvistaa naisten osallisuutta yhteiskunnassa ja työllistymistä.",
]
RETURN = (
    "Hankkeessa tarjotaan vapaaehtoisen paluun neuvontaa kielteisen turvapaikkapäätöksen "
    "saaneille ja tuetaan paluuta kotimaahan."
)


# --------------------------------------------------------------------------- writers


def make_docx(path: Path, paragraphs: list[str], table: list[list[str]] | None = None) -> Path:
    document = docx.Document()
    if paragraphs:
        document.add_heading(paragraphs[0], level=1)
    for text in paragraphs[1:]:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, text in enumerate(row):
                grid.cell(r, c).text = text
        document.add_paragraph("Loppu.")
    document.save(str(path))
    return path


def make_odt(path: Path, paragraphs: list[str], table: list[str] | None = None) -> Path:
    from odf.opendocument import OpenDocumentText
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import H, P

    document = OpenDocumentText()
    if paragraphs:
        document.text.addElement(H(outlinelevel=1, text=paragraphs[0]))
    for text in paragraphs[1:]:
        document.text.addElement(P(text=text))
    if table:
        grid = Table()
        grid.addElement(TableColumn())
        for text in table:
            row, cell = TableRow(), TableCell()
            cell.addElement(P(text=text))
            row.addElement(cell)
            grid.addElement(row)
        document.text.addElement(grid)
    document.save(str(path))
    return path


def pdf_bytes(paragraphs: list[str]) -> bytes:
    """A PDF with a text layer (fpdf2's Helvetica covers Finnish and Swedish letters)."""
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for text in paragraphs:
        pdf.multi_cell(0, 6, text)
        pdf.ln(4)
    return bytes(pdf.output())


def scanned_pdf_bytes() -> bytes:
    """A page with only a drawn rectangle: what a scan looks like to a text extractor."""
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 120, 80, style="F")
    return bytes(pdf.output())


def encrypted_pdf_bytes(user_password: str, owner_password: str = "owner") -> bytes:
    writer = pypdf.PdfWriter()
    writer.append(pypdf.PdfReader(io.BytesIO(pdf_bytes(INTEGRATION))))
    writer.encrypt(user_password=user_password, owner_password=owner_password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- reading


def test_docx_paragraphs_and_table_cells_in_order(tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / "hakemus.docx",
        INTEGRATION,
        table=[["Kohderyhmä", "Maahanmuuttajanaiset"], ["Alue", "Uusimaa"]],
    )
    text = read_document(path)
    lines = [line for line in text.splitlines() if line]
    assert lines == [
        *INTEGRATION,
        "Kohderyhmä",
        "Maahanmuuttajanaiset",
        "Alue",
        "Uusimaa",
        "Loppu.",
    ]
    assert document_text(path.read_bytes(), "hakemus.docx") == text


def test_docx_merged_cell_is_read_once(tmp_path: Path) -> None:
    document = docx.Document()
    table = document.add_table(rows=1, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 2))
    merged.text = "Yhdistetty solu kolmen sarakkeen yli"
    document.save(str(tmp_path / "yhdistetty.docx"))
    assert read_document(tmp_path / "yhdistetty.docx").count("Yhdistetty") == 1


def test_odt_headings_paragraphs_and_tables(tmp_path: Path) -> None:
    path = make_odt(tmp_path / "hakemus.odt", INTEGRATION, table=["Taulukon solu."])
    lines = [line for line in read_document(path).splitlines() if line]
    assert lines == [*INTEGRATION, "Taulukon solu."]


def test_pdf_text_layer_keeps_words_and_paragraphs(tmp_path: Path) -> None:
    path = write(tmp_path / "hakemus.pdf", pdf_bytes(INTEGRATION))
    text = read_document(path)
    flat = " ".join(text.split())
    for paragraph in INTEGRATION:
        assert paragraph in flat
    assert "\n" in text  # lines survive for sentence splitting


def test_pdf_protected_only_against_editing_is_read(tmp_path: Path) -> None:
    # An empty user password: viewers open it without asking; so does amif_match.
    path = write(tmp_path / "suojattu.pdf", encrypted_pdf_bytes(user_password=""))
    assert "kotoutumiskoulutusta" in read_document(path)


def test_text_markdown_and_html_files(tmp_path: Path) -> None:
    md = tmp_path / "hakemus.md"
    md.write_text("# Otsikko\n\nEnsimmäinen kappale.\n\nToinen kappale.\n", encoding="utf-8")
    assert read_document(md) == "# Otsikko\n\nEnsimmäinen kappale.\n\nToinen kappale.\n"
    html = tmp_path / "hakemus.HTML"  # suffixes in any case
    html.write_text(
        "<html><head><title>Ei tätä</title><style>p{}</style></head><body>"
        "<h1>Otsikko</h1><p>Ensimmäinen &amp; toinen.</p><p>Kolmas.</p></body></html>",
        encoding="utf-8",
    )
    lines = [line for line in read_document(html).splitlines() if line.strip()]
    assert lines == ["Otsikko", "Ensimmäinen & toinen.", "Kolmas."]


def test_text_encodings_bom_utf16_and_newlines(tmp_path: Path) -> None:
    body = "Kotoutumiskoulutusta\r\nmaahanmuuttajanaisille, pääkaupunkiseutu"
    expected = "Kotoutumiskoulutusta\nmaahanmuuttajanaisille, pääkaupunkiseutu"
    bom = write(tmp_path / "bom.txt", codecs.BOM_UTF8 + body.encode("utf-8"))
    assert read_document(bom) == expected
    utf16 = write(tmp_path / "unicode.txt", body.encode("utf-16"))  # with its BOM
    assert read_document(utf16) == expected
    latin1 = write(tmp_path / "latin1.txt", body.encode("latin-1"))
    assert read_document(latin1, encoding="latin-1") == expected
    with pytest.raises(DocumentError) as caught:
        read_document(latin1)
    assert str(caught.value).startswith(f"{latin1} is not utf-8-sig text (byte 0xe4 on line 2)")
    assert caught.value.file == str(latin1)


# --------------------------------------------------------------------------- errors


def _error(path: Path, **options: object) -> str:
    with pytest.raises(DocumentError) as caught:
        read_document(path, **options)
    message = str(caught.value)
    assert str(path) in message, message  # every error names the file
    assert isinstance(caught.value, InputError) and isinstance(caught.value, ValueError)
    return message


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "salattu.pdf", encrypted_pdf_bytes(user_password="secret"))
    assert "password-protected" in _error(path)


def test_scanned_pdf_without_text_layer_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "skannattu.pdf", scanned_pdf_bytes())
    message = _error(path)
    assert "no text layer" in message and "ocr" in message.lower()


@pytest.mark.parametrize("kind", ["pdf", "docx", "odt"])
def test_truncated_files_are_refused(tmp_path: Path, kind: str) -> None:
    whole = tmp_path / f"ehja.{kind}"
    if kind == "pdf":
        write(whole, pdf_bytes(INTEGRATION))
    elif kind == "docx":
        make_docx(whole, INTEGRATION)
    else:
        make_odt(whole, INTEGRATION)
    data = whole.read_bytes()
    broken = write(tmp_path / f"rikki.{kind}", data[: len(data) // 2])
    assert f"is not a readable .{kind} file" in _error(broken)
    garbage = write(tmp_path / f"roskaa.{kind}", b"this is not a document at all " * 10)
    assert f"is not a readable .{kind} file" in _error(garbage)


def test_empty_documents_are_refused_never_classified_as_empty(tmp_path: Path) -> None:
    for path in (
        make_docx(tmp_path / "tyhja.docx", []),
        make_odt(tmp_path / "tyhja.odt", []),
        write(tmp_path / "tyhja.txt", b" \n\t\n"),
        write(tmp_path / "tyhja.html", b"<html><body><p> </p></body></html>"),
    ):
        assert "has no text" in _error(path)


def test_unknown_and_unsupported_types(tmp_path: Path) -> None:
    message = _error(write(tmp_path / "hakemus.xyz", b"data"))
    assert "unknown file type '.xyz'" in message and ".docx" in message and ".pdf" in message
    assert "save it as .docx" in _error(write(tmp_path / "vanha.doc", b"\xd0\xcf\x11\xe0"))
    assert "no file type" in _error(write(tmp_path / "hakemus", b"text"))
    assert "no such file" in _error(tmp_path / "puuttuu.pdf")
    folder = tmp_path / "kansio.docx"
    folder.mkdir()
    assert "is a folder" in _error(folder)


def test_size_limit_is_checked_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_docx(tmp_path / "iso.docx", INTEGRATION)

    def never(*args: object) -> None:
        raise AssertionError("parsed a file over the size limit")

    monkeypatch.setattr(docx, "Document", never)
    message = _error(path, max_bytes=1000)
    assert "the limit for a document is 1,000 bytes" in message
    with pytest.raises(DocumentError, match="limit for a document"):
        document_text(path.read_bytes(), "iso.docx", max_bytes=1000)
    assert documents_module.MAX_DOCUMENT_BYTES >= 10 * 1024 * 1024


def test_text_over_max_chars_is_the_error_of_an_over_long_text(tmp_path: Path) -> None:
    with pytest.raises(InputError) as text_error:
        check_text("x" * 301, max_chars=300)
    same = str(text_error.value).split("; ", 1)[1]  # "the limit is 300. Split the document ..."
    for path in (
        make_docx(tmp_path / "pitka.docx", INTEGRATION),
        write(tmp_path / "pitka.pdf", pdf_bytes(INTEGRATION)),
        make_odt(tmp_path / "pitka.odt", INTEGRATION),
        write(tmp_path / "pitka.txt", " ".join(INTEGRATION).encode()),
    ):
        message = _error(path, max_chars=300)
        assert message.endswith(same), message
        assert "characters of text" in message
    assert MAX_CHARS == 200_000


def test_zip_bomb_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_docx(tmp_path / "pommi.docx", INTEGRATION)
    with zipfile.ZipFile(path) as archive:
        declared = sum(i.file_size for i in archive.infolist() if i.filename.endswith(".xml"))
    monkeypatch.setattr(documents_module, "MAX_UNZIPPED_XML_BYTES", declared - 1)
    assert "unpacks to" in _error(path)


def test_missing_reader_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_docx(tmp_path / "hakemus.docx", INTEGRATION)
    monkeypatch.setitem(sys.modules, "docx", None)  # import docx now fails
    with pytest.raises(MissingDependencyError, match=r"amif-match\[documents\]"):
        read_document(path)


# --------------------------------------------------------------------------- the model


def test_matcher_classifies_a_finnish_docx_as_integration(matcher, tmp_path: Path) -> None:
    import amif_match

    path = make_docx(tmp_path / "hakemus.docx", INTEGRATION)
    result = matcher.classify_file(path, k=3)
    assert result.objective == "SO2"
    assert len(result.activities) == 3
    direct = matcher.classify(read_document(path), k=3)
    assert result.to_dict() == direct.to_dict()
    assert amif_match.classify_file(str(path), k=3)["objective"] == "SO2"
    with pytest.raises(DocumentError, match=r"salattu\.pdf is password-protected"):
        matcher.classify_file(write(tmp_path / "salattu.pdf", encrypted_pdf_bytes("secret")))


# --------------------------------------------------------------------------- command line


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("amif-match: error: "), err
    return lines[0]


def test_cli_classifies_documents_and_folders(
    matcher, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from amif_match.interfaces.cli.app import main

    proposal = make_docx(tmp_path / "hakemus.docx", INTEGRATION)
    assert main(["classify", str(proposal), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["objective"] == "SO2"

    folder = tmp_path / "hakemukset"
    folder.mkdir()
    make_docx(folder / "a.docx", INTEGRATION)
    write(folder / "b.pdf", pdf_bytes([RETURN]))
    make_odt(folder / "c.odt", INTEGRATION)
    (folder / "d.md").write_text(RETURN, encoding="utf-8")
    (folder / "e.html").write_text(f"<p>{RETURN}</p>", encoding="utf-8")
    (folder / "kuva.png").write_bytes(b"\x89PNG")  # not a document: ignored
    assert main(["classify", str(folder), "--json", "-k", "1"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [Path(r["id"]).name for r in records] == ["a.docx", "b.pdf", "c.odt", "d.md", "e.html"]
    assert [r["objective"] for r in records] == ["SO2", "SO3", "SO2", "SO3", "SO3"]

    # A broken document in a folder: an error naming it, or skipped with --skip-invalid.
    write(folder / "f.pdf", scanned_pdf_bytes())
    assert main(["classify", str(folder), "--json", "-k", "1"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "f.pdf has no text layer" in line and "--skip-invalid" in line
    assert main(["classify", str(folder), "--json", "-k", "1", "--skip-invalid"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert "no text layer" in records[-1]["error"] and len(records) == 6


def test_cli_partners_and_activities_read_a_document(
    matcher, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from amif_match.interfaces.cli.app import main

    proposal = make_docx(tmp_path / "hakemus.docx", INTEGRATION)
    assert main(["partners", str(proposal), "-k", "2", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    pdf = write(tmp_path / "hakemus.pdf", pdf_bytes(INTEGRATION))
    assert main(["activities", str(pdf), "-k", "2", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_cli_document_errors_name_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from amif_match.interfaces.cli.app import main

    cases = {
        write(tmp_path / "salattu.pdf", encrypted_pdf_bytes("secret")): "is password-protected",
        write(tmp_path / "skannattu.pdf", scanned_pdf_bytes()): "has no text layer",
        write(tmp_path / "rikki.docx", b"PK\x03\x04 broken"): "is not a readable .docx file",
        write(tmp_path / "vanha.doc", b"\xd0\xcf\x11\xe0"): "save it as .docx",
    }
    for path, expected in cases.items():
        assert main(["classify", str(path)]) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert f"{path} " in line and expected in line, line
    assert main(["partners", str(tmp_path / "salattu.pdf")]) == 2
    assert "is password-protected" in _one_error_line(capsys.readouterr().err)
    for missing in ("puuttuu.docx", "puuttuu.pdf", "puuttuu.odt", "puuttuu.doc"):
        assert main(["classify", str(tmp_path / missing)]) == 2
        assert "no such file" in _one_error_line(capsys.readouterr().err)


# --------------------------------------------------------------------------- service

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture(scope="module")
def client(matcher):
    from starlette.testclient import TestClient

    from amif_match.interfaces.service import create_app

    with TestClient(create_app(matcher=matcher)) as c:
        yield c


def _detail(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) <= {"detail", "errors"} and body["detail"]
    assert "Traceback" not in response.text and "/tmp" not in response.text
    return body["detail"]


def test_service_classifies_an_uploaded_docx_and_pdf(matcher, client, tmp_path: Path) -> None:
    path = make_docx(tmp_path / "hakemus.docx", INTEGRATION)
    response = client.post(
        "/classify/file",
        files={"file": ("hakemus.docx", path.read_bytes(), DOCX_TYPE)},
        data={"k": "3"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["objective"] == "SO2" and len(body["activities"]) == 3
    assert body == matcher.classify_file(path, k=3).to_dict()

    pdf = pdf_bytes([RETURN])
    response = client.post("/classify/file", files={"file": ("paluu.pdf", pdf, "application/pdf")})
    assert response.status_code == 200, response.text
    assert response.json()["objective"] == "SO3"
    # No file name suffix: the Content-Type gives the type.
    response = client.post("/classify/file", files={"file": ("paluu", pdf, "application/pdf")})
    assert response.status_code == 200, response.text


def test_service_upload_errors_name_the_upload_not_a_server_path(client) -> None:
    cases = {
        "salattu.pdf": (encrypted_pdf_bytes("secret"), "salattu.pdf is password-protected"),
        "skannattu.pdf": (scanned_pdf_bytes(), "skannattu.pdf has no text layer"),
        "rikki.docx": (b"PK\x03\x04 broken", "rikki.docx is not a readable .docx file"),
        "tyhja.txt": (b"   ", "tyhja.txt has no text"),
        "ohjelma.exe": (b"MZ", "ohjelma.exe has an unknown file type '.exe'"),
    }
    for name, (data, expected) in cases.items():
        # A client may send a full path as the file name: only its last part is used.
        response = client.post(
            "/classify/file", files={"file": (f"C:\\Users\\me\\{name}", data, "x/y")}
        )
        detail = _detail(response, 422)
        assert detail.startswith(expected), detail
        assert "Users" not in detail
    detail = _detail(client.post("/classify/file", files={"file": ("x", b"a", "x/y")}), 422)
    assert "name the uploaded file" in detail
    too_big = client.post(
        "/classify/file", files={"file": ("a.txt", b"abc", "text/plain")}, data={"k": "500"}
    )
    assert "k" in _detail(too_big, 422)
    unknown = client.post(
        "/classify/file", files={"file": ("a.txt", b"abc", "text/plain")}, data={"kk": "1"}
    )
    assert "unknown field" in _detail(unknown, 422)
    as_json = client.post("/classify/file", json={"text": "Kotoutumiskoulutusta"})
    assert "multipart/form-data" in _detail(as_json, 422)
    assert client.get("/health").json()["status"] == "ok"


def test_service_upload_size_is_bounded() -> None:
    pytest.importorskip("python_multipart")
    from starlette.testclient import TestClient

    from amif_match.interfaces.service import MAX_BODY_BYTES, MAX_UPLOAD_BYTES, create_app

    assert MAX_UPLOAD_BYTES > MAX_BODY_BYTES
    # No lifespan: the limit answers before any model work (none is loaded here).
    client = TestClient(create_app(max_upload_bytes=2000))
    response = client.post("/classify/file", files={"file": ("a.pdf", b"%PDF" * 1000)})
    detail = _detail(response, 413)
    assert "the limit for a document upload is 2,000 bytes" in detail
    # The JSON endpoints keep their own limit.
    response = client.post("/classify", content=b"x" * 3000, headers={"content-length": "3000"})
    assert response.status_code != 413


def test_service_openapi_documents_the_upload() -> None:
    pytest.importorskip("python_multipart")
    import openapi_spec_validator as validator

    from amif_match.interfaces.service import create_app

    document = create_app().openapi()
    validator.validate(document)
    body = document["paths"]["/classify/file"]["post"]["requestBody"]
    assert list(body["content"]) == ["multipart/form-data"]
    schema = document["components"]["schemas"]["ClassifyFileForm"]
    assert {"file", "k", "threshold", "min_labels", "language"} <= set(schema["properties"])
    assert schema["required"] == ["file"]


def test_service_without_python_multipart_answers_503(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("fastapi")
    import fastapi.dependencies.utils as fastapi_utils
    from starlette.testclient import TestClient

    from amif_match.interfaces.service import create_app

    def missing() -> None:
        raise RuntimeError('Form data requires "python-multipart" to be installed.')

    monkeypatch.setattr(fastapi_utils, "ensure_multipart_is_installed", missing)
    app = create_app()
    assert "/classify/file" not in app.openapi()["paths"]
    detail = _detail(TestClient(app).post("/classify/file", content=b"x"), 503)
    assert "python-multipart" in detail
