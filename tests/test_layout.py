"""The package's layout: imports point one way (core <- steps <- pipeline <- cli), products are
opened only in ``image``, and the public API loads lazily."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "orbitscout"

# what each part of the package may import of the package (besides itself)
ALLOWED = {
    "core": set(),
    "observe": {"core"},
    "edl": {"core"},
    "image": {"core"},
    "detect": {"core"},
    "identify": {"core"},
    "report": {"core"},
    "sim": {"core", "observe", "pipeline"},  # the demo runs find
    "pipeline": {"core", "image", "detect", "identify", "report", "edl"},
    "survey": {"core", "pipeline", "report"},  # its index page over the pairs
    "cli": {"core", "observe", "edl", "sim", "pipeline", "survey", "report", "package"},
    "package": {"core"},  # orbitscout/__init__.py: its API is imported lazily, by name
}
# parts that never open a file through GDAL (pure functions over arrays and reader callbacks)
NO_GDAL = {"core", "detect", "identify", "report", "observe", "edl", "pipeline", "survey"}


def _part(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "orbitscout":
        raise ValueError(module)
    return "package" if len(parts) == 1 else parts[1]


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module imported anywhere in ``path`` (function bodies and TYPE_CHECKING blocks
    included) with its line."""
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{path}:{node.lineno}: relative import")
            out.append((node.module, node.lineno))
    return out


def _type_checking_lines(path: Path) -> set[int]:
    lines = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for child in ast.walk(node):
                if hasattr(child, "lineno"):
                    lines.add(child.lineno)
    return lines


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        out.append((".".join(parts), path))
    return out


def violations() -> list[str]:
    """Imports that point the wrong way, as 'FILE:LINE: PART imports WHAT'."""
    found = []
    for module, path in _modules():
        part = _part(module)
        typing_only = _type_checking_lines(path)
        for name, line in _imports(path):
            top = name.split(".")[0]
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if top in ("rasterio", "osgeo") and part in NO_GDAL:
                found.append(f"{where}: {part} imports {name}")
            if top != "orbitscout" or line in typing_only:
                continue
            target = _part(name)
            if target != part and target not in ALLOWED[part]:
                found.append(f"{where}: {part} imports {name}")
    return found


def test_imports_point_one_way():
    assert violations() == []


def test_the_check_sees_a_wrong_import(tmp_path, monkeypatch):
    """A module of ``detect`` that imports ``image`` and rasterio is reported, twice."""
    fake = tmp_path / "orbitscout"
    (fake / "detect").mkdir(parents=True)
    (fake / "detect" / "bad.py").write_text(
        "import rasterio\n\ndef f():\n    from orbitscout.image.product import open_product\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert violations() == [
        "orbitscout/detect/bad.py:1: detect imports rasterio",
        "orbitscout/detect/bad.py:4: detect imports orbitscout.image.product",
    ]


def test_every_subpackage_says_what_lives_there():
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init} has no docstring"


@pytest.mark.parametrize(
    "code",
    [
        "import orbitscout",
        "from orbitscout.cli import app",
        "from orbitscout.observe import marstime; marstime.mars_time()",
    ],
)
def test_light_paths_do_not_import_gdal(code):
    """``import orbitscout``, the CLI's start and ``orbitscout time`` leave rasterio unloaded."""
    check = f"{code}\nimport sys\nassert 'rasterio' not in sys.modules, 'rasterio loaded'"
    subprocess.run([sys.executable, "-c", check], check=True)


def test_public_api():
    import orbitscout

    for name in orbitscout.__all__:
        assert getattr(orbitscout, name) is not None
    with pytest.raises(AttributeError):
        orbitscout.no_such_thing  # noqa: B018
    assert issubclass(orbitscout.OrbitscoutError, Exception)
    assert orbitscout.find.__module__ == "orbitscout.pipeline"
