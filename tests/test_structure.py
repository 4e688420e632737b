"""The shape of the package (issue 10): small modules and classes, clean seams between them.

Parsed with :mod:`ast`, no import of the package needed, so this runs in a fraction of a second:

- no module over :data:`MAX_MODULE_LINES` lines and no class over :data:`MAX_CLASS_LINES`;
- no private name (one leading underscore) imported from, or reached into, another
  amif_match module: what is shared is public, in a small module;
- nothing inside the package imports the package ``__init__`` (an arrow back up the house);
- ``import amif_match`` stays light: no torch, no sentence-transformers.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "amif_match"
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 250


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names (resolving relative imports)."""
    if not node.level:
        return node.module or ""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _violations(module: str, path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    where = path.relative_to(PACKAGE.parent)
    found = []
    if (n := len(source.splitlines())) > MAX_MODULE_LINES:
        found.append(f"{where}: {n} lines (limit {MAX_MODULE_LINES})")
    module_aliases: set[str] = set()  # local names bound to amif_match modules
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            span = (node.end_lineno or node.lineno) - node.lineno + 1
            if span > MAX_CLASS_LINES:
                found.append(f"{where}: class {node.name} has {span} lines")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "amif_match" and module != "amif_match":
                    found.append(f"{where}:{node.lineno}: imports the package __init__")
                elif alias.name.startswith("amif_match."):
                    # Private *modules* (_version, _resources) are fine: only names count.
                    module_aliases.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, node)
            if not (target == "amif_match" or target.startswith("amif_match.")):
                continue
            if target == "amif_match" and module != "amif_match":
                found.append(f"{where}:{node.lineno}: imports the package __init__")
            for alias in node.names:
                if _is_private(alias.name):
                    found.append(f"{where}:{node.lineno}: imports private {target}.{alias.name}")
                elif f"{target}.{alias.name}" in MODULES:
                    module_aliases.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        # ``amif_match.x._y`` or ``some_module._y`` where some_module is an amif_match module.
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in module_aliases:
                found.append(f"{where}:{node.lineno}: reaches into private {ast.unparse(node)}")
    return found


def test_structure_rules_hold():
    problems = [p for module, path in MODULES.items() for p in _violations(module, path)]
    assert not problems, "\n".join(["structure rules broken:", *problems])


def test_the_checker_catches_each_kind_of_violation(tmp_path, monkeypatch):
    """The rules above would pass vacuously if the checker missed things: feed it each one."""
    bad = tmp_path / "amif_match" / "bad.py"
    bad.parent.mkdir()
    bad.write_text(
        "import amif_match\n"
        "import amif_match.embedding.cache as c\n"
        "from amif_match import Corpus\n"
        "from amif_match.corpus.validation import _read_csv\n"
        "from .corpus import _x\n"
        "from amif_match.embedding import model_cache\n"
        "model_cache._host()\n"
        "c._kind(None)\n"
        "class Big:\n" + "    x = 1\n" * MAX_CLASS_LINES + "\n" * MAX_MODULE_LINES,
        encoding="utf-8",
    )
    monkeypatch.setitem(MODULES, "amif_match.bad", bad)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", bad.parent)
    problems = _violations("amif_match.bad", bad)
    text = "\n".join(problems)
    assert text.count("imports the package __init__") == 2, text
    assert "imports private amif_match.corpus.validation._read_csv" in text
    assert "imports private amif_match.corpus._x" in text
    assert "reaches into private model_cache._host" in text
    assert "reaches into private c._kind" in text
    assert "class Big has" in text
    assert f"(limit {MAX_MODULE_LINES})" in text
    assert len(problems) == 8, text


def test_import_is_light():
    code = (
        "import sys, amif_match; amif_match.__version__; "
        "heavy = sorted({'torch', 'sentence_transformers', 'transformers'} & set(sys.modules)); "
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "", f"import amif_match loads {result.stdout.strip()}"
