"""Documents in: the text of a ``.docx``, ``.pdf``, ``.odt``, ``.txt``, ``.md`` or ``.html`` file.

:func:`read_document` reads a file, :func:`document_text` the bytes of one (an upload); both
return plain text with its paragraphs on lines of their own (sentence splitting uses them),
ready for :meth:`amif_match.Matcher.classify`. Word tables are read cell by cell, in order.

The readers of the binary formats are optional (``pip install 'amif-match[documents]'``:
python-docx, pypdf, odfpy) and imported only when such a file is read. Every problem is a
:class:`~amif_match.errors.DocumentError` (an :class:`~amif_match.errors.InputError`, so a
``ValueError``) naming the file: an unknown type, a file over :data:`MAX_DOCUMENT_BYTES`
(refused before it is parsed), a corrupt or truncated file, a password-protected PDF, a PDF
without a text layer (a scan), a document with no text, or more than ``max_chars`` characters
of text (the limit of any text, :data:`amif_match.text.MAX_CHARS`). Nothing is ever returned
empty.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from amif_match.errors import DocumentError, MissingDependencyError
from amif_match.text.normalise import MAX_CHARS, strip_html

__all__ = [
    "DOCUMENT_SUFFIXES",
    "MAX_DOCUMENT_BYTES",
    "UNSUPPORTED_SUFFIXES",
    "decode_text",
    "document_text",
    "read_document",
]

#: Largest document file read, in bytes; a larger one is refused before it is parsed. A
#: 30-page proposal is well under 1 MiB of text; the rest of the bound is room for images.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024

#: Largest total size of the XML parts inside a .docx/.odt (zip) file, as the zip declares
#: them (Python's zipfile never inflates a part past its declared size): a zip bomb is
#: refused before any XML is parsed.
MAX_UNZIPPED_XML_BYTES = 64 * 1024 * 1024

_TEXT = (".txt", ".text", ".md")
_HTML = (".html", ".htm")

#: The file types read (by name, case-insensitive).
DOCUMENT_SUFFIXES = (".docx", ".pdf", ".odt", *_TEXT, *_HTML)

#: Document types recognised but not read, with what to do instead.
UNSUPPORTED_SUFFIXES = {
    ".doc": "save it as .docx (Word: File > Save As)",
    ".rtf": "save it as .docx or .odt",
    ".pages": "export it as .docx or .pdf",
    ".wpd": "save it as .docx or .odt",
    ".xps": "print it to .pdf",
    ".epub": "convert it to .pdf or .html",
}

_INSTALL = "pip install 'amif-match[documents]'"


def read_document(
    path: str | os.PathLike[str],
    *,
    max_chars: int = MAX_CHARS,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    encoding: str = "utf-8-sig",
) -> str:
    """The text of the document at ``path``; the type is taken from the file name's suffix.

    Args:
        path: A ``.docx``, ``.pdf``, ``.odt``, ``.txt``/``.text``, ``.md`` or
            ``.html``/``.htm`` file.
        max_chars: Most characters of text accepted (as for any text).
        max_bytes: Largest file accepted; checked before the file is read.
        encoding: Encoding of text and HTML files (default UTF-8 with or without a byte-order
            mark; a UTF-16 file with a byte-order mark is recognised as well).

    Raises:
        DocumentError: see the module's description; the message begins with the path.
        MissingDependencyError: the reader for this type is not installed.
    """
    name = os.fspath(path)
    file = Path(name)
    _reader(file.suffix, name)  # an unknown type is refused before the file is touched
    try:
        size = file.stat().st_size
        if file.is_dir():
            raise DocumentError(f"{name} is a folder, not a document", file=name)
        _check_size(size, max_bytes, name)
        with file.open("rb") as handle:  # bounded, whatever the size claimed a moment ago
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise DocumentError(f"no such file: {name}", file=name) from None
    except OSError as exc:
        raise DocumentError(f"{name} cannot be read ({exc.strerror or exc})", file=name) from None
    return document_text(data, name, max_chars=max_chars, max_bytes=max_bytes, encoding=encoding)


def document_text(
    data: bytes,
    name: str,
    *,
    max_chars: int = MAX_CHARS,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    encoding: str = "utf-8-sig",
) -> str:
    """The text of a document given as bytes, e.g. an upload; ``name`` gives its type (by its
    suffix) and is the file named in errors. Options and errors as :func:`read_document`."""
    reader = _reader(Path(name).suffix, name)
    _check_size(len(data), max_bytes, name)
    text = reader(data, name, encoding=encoding, max_chars=max_chars)
    if not text.strip():
        raise DocumentError(
            f"{name} has no text (only whitespace, images or empty pages)", file=name
        )
    _check_chars(len(text), max_chars, name)
    return text


def decode_text(data: bytes, name: str, encoding: str = "utf-8-sig") -> str:
    """``data`` decoded with ``encoding``, with universal newlines and no byte-order mark.

    With the default ``utf-8-sig`` (or ``utf-8``), a UTF-16 byte-order mark selects UTF-16
    (Windows editors' "Unicode" text). A byte that does not decode is an error naming the line,
    never replaced: the text would silently differ from the file.

    Raises:
        DocumentError: the bytes are not text in that encoding.
        LookupError: ``encoding`` is not a known encoding.
    """
    codecs.lookup(encoding)
    if encoding.lower().replace("_", "-") in ("utf-8-sig", "utf-8", "utf8") and data.startswith(
        (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    ):
        encoding = "utf-16"
    try:
        # Decoding through TextIOWrapper gives the same universal newlines as read_text().
        text = io.TextIOWrapper(io.BytesIO(data), encoding=encoding).read()
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DocumentError(
            f"{name} is not {encoding} text (byte 0x{data[exc.start]:02x} on line {line}); "
            "convert it first (e.g. iconv -f latin1 -t utf-8)",
            file=name,
        ) from exc  # the CLI adds its --encoding hint for this cause
    # With encoding utf-8 the mark survives decoding and would glue onto the first word.
    return text[1:] if text.startswith("\ufeff") else text


# --------------------------------------------------------------------------- checks


def _reader(suffix: str, name: str) -> Callable[..., str]:
    """The reader for a file suffix; an unknown one is an error naming the types read."""
    suffix = suffix.lower()
    readers: dict[str, Callable[..., str]] = {
        ".docx": _text_of_docx,
        ".pdf": _text_of_pdf,
        ".odt": _text_of_odt,
        **dict.fromkeys(_TEXT, _text_of_plain),
        **dict.fromkeys(_HTML, _text_of_html),
    }
    if suffix in readers:
        return readers[suffix]
    kinds = ", ".join(DOCUMENT_SUFFIXES)
    if suffix in UNSUPPORTED_SUFFIXES:
        how = UNSUPPORTED_SUFFIXES[suffix]
        raise DocumentError(
            f"{name} is a {suffix} file, which cannot be read; {how}. The document types "
            f"read are {kinds}",
            file=name,
        )
    what = f"an unknown file type {suffix!r}" if suffix else "no file type (no suffix)"
    raise DocumentError(f"{name} has {what}; the document types read are {kinds}", file=name)


def _check_size(size: int, max_bytes: int, name: str) -> None:
    if size > max_bytes:
        raise DocumentError(
            f"{name} is {_mib(size)}; the limit for a document is {_mib(max_bytes)} "
            "(remove images or split it)",
            file=name,
        )


def _mib(size: int) -> str:
    return f"{size:,} bytes" if size < 1024 * 1024 else f"{size / (1024 * 1024):.1f} MiB"


def _check_chars(chars: int, max_chars: int, name: str, *, more: bool = False) -> None:
    """The limit of any text (:func:`amif_match.text.check_text`), for a document."""
    if chars > max_chars:
        count = f"more than {max_chars:,}" if more else f"{chars:,}"
        raise DocumentError(
            f"{name} has {count} characters of text; the limit is {max_chars:,}. "
            "Split the document or raise max_chars.",
            file=name,
        )


def _require(module: str, package: str, suffix: str) -> Any:
    """Import an optional reader, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"reading {suffix} files needs {package}: {_INSTALL} (or pip install {package})"
        ) from None


def _corrupt(name: str, kind: str, exc: BaseException) -> DocumentError:
    detail = " ".join(str(exc).split())[:200] or type(exc).__name__
    return DocumentError(
        f"{name} is not a readable {kind} file (corrupt or truncated?): {detail}", file=name
    )


def _open_zip(data: bytes, name: str, kind: str) -> None:
    """Check a .docx/.odt container before its reader parses it: a zip, and no zip bomb."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            declared = sum(i.file_size for i in archive.infolist() if i.filename.endswith(".xml"))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise _corrupt(name, kind, exc) from None
    if declared > MAX_UNZIPPED_XML_BYTES:
        raise DocumentError(
            f"{name} unpacks to {_mib(declared)} of XML; "
            f"the limit is {_mib(MAX_UNZIPPED_XML_BYTES)}",
            file=name,
        )


# --------------------------------------------------------------------------- readers


# Every reader is called as reader(data, name, encoding=..., max_chars=...).


def _text_of_plain(data: bytes, name: str, *, encoding: str, max_chars: int) -> str:
    return decode_text(data, name, encoding)


def _text_of_html(data: bytes, name: str, *, encoding: str, max_chars: int) -> str:
    # The same linear-time scanner as for HTML given as text; block elements become lines.
    return strip_html(decode_text(data, name, encoding))[0]


def _text_of_docx(data: bytes, name: str, *, encoding: str, max_chars: int) -> str:
    docx = _require("docx", "python-docx", ".docx")
    _open_zip(data, name, ".docx")
    try:
        document = docx.Document(io.BytesIO(data))
        lines = list(_docx_blocks(document))
    except DocumentError:
        raise
    except Exception as exc:  # python-docx and lxml raise many kinds for a broken file
        raise _corrupt(name, ".docx", exc) from None
    return "\n".join(lines)


def _docx_blocks(container: Any) -> Iterator[str]:
    """Paragraphs and tables in document order; a table cell by cell, row by row."""
    from docx.table import Table

    for block in container.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                seen: set[Any] = set()  # lxml elements, hashed by identity
                for cell in row.cells:  # a merged cell appears once per grid column it spans
                    if cell._tc in seen:
                        continue
                    seen.add(cell._tc)
                    yield from _docx_blocks(cell)
                yield ""
        else:
            yield block.text


def _text_of_odt(data: bytes, name: str, *, encoding: str, max_chars: int) -> str:
    _require("odf", "odfpy", ".odt")
    from odf.opendocument import load

    _open_zip(data, name, ".odt")
    try:
        document = load(io.BytesIO(data))
    except Exception as exc:  # odfpy raises KeyError, XML errors, ... for a broken file
        raise _corrupt(name, ".odt", exc) from None
    if not document.mimetype.startswith("application/vnd.oasis.opendocument.text"):
        raise DocumentError(
            f"{name} is not an OpenDocument text (its type is {document.mimetype!r})", file=name
        )
    try:
        lines = list(_odt_blocks(document.text))
    except Exception as exc:
        raise _corrupt(name, ".odt", exc) from None
    return "\n".join(lines)


def _odt_blocks(node: Any) -> Iterator[str]:
    """Paragraphs and headings in document order (inside lists, tables and sections too)."""
    from odf import teletype
    from odf.namespaces import TEXTNS

    for child in node.childNodes:
        if child.nodeType != child.ELEMENT_NODE:
            continue
        if child.qname in ((TEXTNS, "p"), (TEXTNS, "h")):
            yield teletype.extractText(child)
        else:
            yield from _odt_blocks(child)


def _text_of_pdf(data: bytes, name: str, *, encoding: str, max_chars: int) -> str:
    pypdf = _require("pypdf", "pypdf", ".pdf")
    # pypdf logs what it repairs in a damaged file; without a handler of the application's,
    # Python would print those lines on stderr next to the one error that matters.
    pdf_log = logging.getLogger("pypdf")
    if not pdf_log.handlers:
        pdf_log.addHandler(logging.NullHandler())
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            _decrypt(reader, name)
        pages: list[str] = []
        chars = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            chars += len(text) + 2
            _check_chars(chars, max_chars, name, more=True)  # stop reading a huge document
            pages.append(text)
    except DocumentError:
        raise
    except Exception as exc:  # pypdf's PdfReadError, PdfStreamError, and others
        raise _corrupt(name, ".pdf", exc) from None
    if not pages:
        raise DocumentError(f"{name} has no pages", file=name)
    if not any(p.strip() for p in pages):
        raise DocumentError(
            f"{name} has no text layer ({len(pages)} page{'s' * (len(pages) > 1)} of images: "
            "a scan?); run text recognition on it first (e.g. ocrmypdf) or give the text",
            file=name,
        )
    return "\n\n".join(pages)


def _decrypt(reader: Any, name: str) -> None:
    """Open a PDF protected only against editing (empty user password); refuse others."""
    try:
        opened = reader.decrypt("")
    except Exception as exc:  # e.g. AES without the cryptography package
        raise DocumentError(
            f"{name} is encrypted and cannot be opened here ({' '.join(str(exc).split())[:200]}); "
            "save an unprotected copy",
            file=name,
        ) from None
    if not opened:
        raise DocumentError(
            f"{name} is password-protected; save a copy without the password and give that",
            file=name,
        )
