"""Every bad input to ``find`` is one line ``orbitscout: error: WHAT: problem`` on stderr, exit
status 2, and leaves the output folder as it was (issue 19, items 4, 5, 6 and 7)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import bad_inputs as bi
import pytest
from synth import make_pair

from orbitscout.cli import main

REPO = Path(__file__).resolve().parents[1]


def _run(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["orbitscout", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def _one_error(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("orbitscout: error: "), err
    assert "Traceback" not in err
    return lines[0]


def _text(path: Path) -> Path:
    path.write_text("heights, but not a raster\n")
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """The crafted inputs, made once: a good pair and what is wrong with each of the rest."""
    from orbitscout.core.bodies import MOON

    d = tmp_path_factory.mktemp("bad")
    before, after = make_pair(d, size=256)
    (d / "moon").mkdir()
    moon_before, moon_after = make_pair(d / "moon", size=256, body=MOON, site=(0.0, 23.47))
    return {
        "before": before,
        "after": after,
        "moon_before": moon_before,
        "moon_after": moon_after,
        "huge_200k": bi.huge_header(d / "huge_200k.tif", 200_000),
        "huge_1m": bi.huge_header(d / "huge_1m.tif", 1_000_000),
        "truncated": bi.truncated(after, d / "truncated.tif"),
        "earth": bi.regrid(after, d / "earth.tif", "EPSG:32633"),
        "sparse_before": bi.masked(before, d / "sparse_before.tif"),
        "dtm_no_crs": bi.dtm_like(after, d / "dtm_no_crs.tif", crs=None),
        "dtm_earth": bi.dtm_like(after, d / "dtm_earth.tif", crs="EPSG:32633"),
        "dtm_away": bi.dtm_like(after, d / "dtm_away.tif", east_m=50_000.0),
        "dtm_text": _text(d / "dtm.txt"),
        "dtm_truncated": bi.truncated(bi.dtm_like(after, d / "dtm.tif"), d / "dtm_cut.tif"),
    }


# (name, arguments with {key} for an input, and what the one line must hold)
CASES = [
    ("huge header 200,000^2", ["{huge_200k}", "{huge_200k}", "--max-memory", "8G"],
     ["huge_200k.tif", "200,000 x 200,000", "8 GB", "--max-memory"]),
    ("huge header 1,000,000^2, default limit", ["{huge_1m}", "{huge_1m}"],
     ["huge_1m.tif", "1,000,000 x 1,000,000", "--max-memory"]),
    ("huge AFTER, good BEFORE", ["{before}", "{huge_1m}"], ["huge_1m.tif", "memory"]),
    ("Moon image, --body mars", ["{moon_before}", "{moon_after}", "--body", "mars"],
     ["moon/before.tif", "the Moon", "not of Mars", "--body mars"]),
    ("Mars image, --body moon", ["{before}", "{after}", "--body", "moon"],
     ["before.tif", "of Mars", "--body moon"]),
    ("Earth CRS without --body", ["{before}", "{earth}"], ["earth.tif", "--body"]),
    ("unknown --body", ["{before}", "{after}", "--body", "pluto"], ["--body", "pluto"]),
    ("truncated tiled GeoTIFF", ["{before}", "{truncated}"],
     ["truncated.tif", "cannot read pixels", "X offset 0, Y offset 0", "tile 0"]),
    ("too few valid pixels", ["{sparse_before}", "{after}"],
     ["sparse_before.tif", "too few valid pixels"]),
    ("--tile 0", ["{before}", "{after}", "--tile", "0"], ["--tile", "256"]),
    ("--tile -5", ["{before}", "{after}", "--tile", "-5"], ["--tile"]),
    ("--tile 255", ["{before}", "{after}", "--tile", "255"], ["--tile"]),
    ("--min-score 2", ["{before}", "{after}", "--min-score", "2"], ["--min-score"]),
    ("--min-score -0.1", ["{before}", "{after}", "--min-score", "-0.1"], ["--min-score"]),
    ("--min-score nan", ["{before}", "{after}", "--min-score", "nan"], ["--min-score", "nan"]),
    ("--gsd 0", ["{before}", "{after}", "--gsd", "0"], ["--gsd", "above 0"]),
    ("--gsd -1", ["{before}", "{after}", "--gsd", "-1"], ["--gsd"]),
    ("--gsd nan", ["{before}", "{after}", "--gsd", "nan"], ["--gsd"]),
    ("--band 0", ["{before}", "{after}", "--band", "0"], ["--band"]),
    ("--band 1,2,3", ["{before}", "{after}", "--band", "1,2,3"], ["--band"]),
    ("--band 1,9 (AFTER has one band)", ["{before}", "{after}", "--band", "1,9"],
     ["after.tif", "no band 9"]),
    ("--max-memory lots", ["{before}", "{after}", "--max-memory", "lots"], ["--max-memory"]),
    ("--max-memory over budget", ["{before}", "{after}", "--max-memory", "100M"],
     ["after.tif", "256 x 256", "100 MB"]),
    ("--site not a site", ["{before}", "{after}", "--site", "north"], ["--site", "LAT,LON"]),
    ("--site latitude 95", ["{before}", "{after}", "--site", "95,0"], ["--site", "95"]),
    ("--site not finite", ["{before}", "{after}", "--site", "nan,0"], ["--site", "finite"]),
    ("--sun-before azimuth 400", ["{before}", "{after}", "--sun-before", "400,20"],
     ["--sun-before", "azimuth", "400"]),
    ("--sun-after incidence 90", ["{before}", "{after}", "--sun-after", "120,90"],
     ["--sun-after", "incidence", "90"]),
    ("--sun-before one number", ["{before}", "{after}", "--sun-before", "120"],
     ["--sun-before", "AZ,INC"]),
    ("--sun-after not finite", ["{before}", "{after}", "--sun-after", "120,nan"],
     ["--sun-after", "nan"]),
    ("--dtm missing", ["{before}", "{after}", "--dtm", "{before}.missing"],
     ["before.tif.missing", "DTM file not found"]),
    ("--dtm not a raster", ["{before}", "{after}", "--dtm", "{dtm_text}"],
     ["dtm.txt", "not a readable DTM"]),
    ("--dtm without a CRS", ["{before}", "{after}", "--dtm", "{dtm_no_crs}"],
     ["dtm_no_crs.tif", "has no CRS"]),
    ("--dtm of the Earth", ["{before}", "{after}", "--dtm", "{dtm_earth}"],
     ["dtm_earth.tif", "neither Mars nor the Moon"]),
    ("--dtm elsewhere", ["{before}", "{after}", "--dtm", "{dtm_away}"],
     ["dtm_away.tif", "does not cover the AFTER image"]),
    ("--dtm truncated", ["{before}", "{after}", "--dtm", "{dtm_truncated}"],
     ["dtm_cut.tif", "cannot read pixels"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args", "expected"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("out_exists", [False, True], ids=["new DIR", "existing DIR"])
def test_bad_input_is_one_line_and_dir_untouched(
    inputs, tmp_path, monkeypatch, capsys, name, args, expected, out_exists
):
    out = tmp_path / "out"
    if out_exists:
        out.mkdir()
        (out / "keep.txt").write_text("an earlier run's")
    before = bi.snapshot(out)
    start = time.perf_counter()
    code, _, err = _run(
        monkeypatch, capsys, "find", *(a.format(**inputs) for a in args), "--out", out
    )
    line = _one_error(code, err)
    for words in expected:
        assert words in line, line
    assert time.perf_counter() - start < 20  # refused before any work, not after it
    assert bi.snapshot(out) == before


def test_out_a_read_only_folder_is_found_before_any_work(inputs, tmp_path, monkeypatch, capsys):
    with bi.read_only_folder(tmp_path / "ro") as ro:
        if ro is None:
            pytest.skip("cannot make a folder this user cannot write into")
        for out in (ro, ro / "sub"):
            before = bi.snapshot(ro)
            start = time.perf_counter()
            code, _, err = _run(
                monkeypatch, capsys, "find", inputs["before"], inputs["after"], "--out", out
            )
            line = _one_error(code, err)
            assert str(out) in line and "permission" in line, line
            assert time.perf_counter() - start < 5
            assert bi.snapshot(ro) == before


def test_no_overlap_to_register_names_the_file(inputs, tmp_path, monkeypatch, capsys):
    """register's own errors name no file: find names BEFORE (the pair)."""
    from orbitscout.core.errors import OrbitscoutError
    from orbitscout.detect import register

    def refuse(*_args, **_kwargs):
        raise OrbitscoutError("no part of the two images overlaps enough to register them")

    monkeypatch.setattr(register, "_refine", refuse)
    out = tmp_path / "out"
    code, _, err = _run(
        monkeypatch, capsys, "find", inputs["before"], inputs["after"], "--out", out
    )
    line = _one_error(code, err)
    assert f"{inputs['before']}: no part of the two images overlaps" in line
    assert not out.exists()


def _subprocess(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


PEAK = """
    import resource, sys
    from orbitscout.cli import main
    sys.argv = ["orbitscout", "find", *sys.argv[1:]]
    try:
        main()
    finally:
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, file=sys.stdout)
"""


def test_crafted_header_allocates_no_gigabytes(tmp_path):
    """A header of a few KB declaring 120,000^2 pixels (its first block's offset past the end
    of the file) is refused in one line, its peak memory far from the 1.25 GB of one reduced
    image of that size (0.9 GB); the old code read the reduced images before failing."""
    header = bi.header_only(tmp_path / "crafted.tif")
    assert header.stat().st_size < 20_000
    out = tmp_path / "out"
    start = time.perf_counter()
    proc = _subprocess(PEAK, header, header, "--out", out)
    assert int(proc.stdout.split()[-1]) < 600  # MB: the interpreter and libraries ~ 280
    line = _one_error(proc.returncode, proc.stderr)
    assert "crafted.tif" in line, line
    # under the default budget (half the RAM) on most machines: refused by its first block
    assert ("cannot read pixels" in line and "offset" in line) or "--max-memory" in line, line
    assert time.perf_counter() - start < 30
    assert not out.exists()


def test_gdal_warnings_never_make_a_second_line(inputs, tmp_path):
    """GDAL warns on every read of a TIFF whose tags are out of order, from every thread (the
    tile loop's printed ``Warning 1: ...`` on stderr). An error is then still one line, and a
    run that succeeds prints none of them; they are in summary.json."""
    warned = bi.unsorted_tags(inputs["after"], tmp_path / "unsorted.tif")
    run = """
        import sys
        from orbitscout.cli import main
        sys.argv = ["orbitscout", "find", *sys.argv[1:]]
        main()
    """
    out = tmp_path / "out"
    proc = _subprocess(run, inputs["before"], warned, "--out", out, "--tile", "256")
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "TIFF" not in proc.stderr, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert any("TIFFReadDirectory" in w for w in summary["gdal_warnings"])
    # BEFORE read in a worker thread (GDAL warns there), then refused
    sparse = bi.unsorted_tags(inputs["sparse_before"], tmp_path / "sparse_unsorted.tif")
    bad = tmp_path / "bad"
    proc = _subprocess(run, sparse, inputs["after"], "--out", bad)
    assert "too few valid pixels" in _one_error(proc.returncode, proc.stderr)
    assert not bad.exists()


def test_earth_crs_under_body_is_a_pixel_grid_with_one_warning(
    inputs, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "out"
    code, _, err = _run(
        monkeypatch, capsys, "find", inputs["before"], inputs["earth"], "--out", out,
        "--body", "mars", "--gsd", "1",
    )  # fmt: skip
    assert code == 0, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("orbitscout: warning: "), err
    assert "earth.tif" in lines[0] and "pixel grid" in lines[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["body"] == "mars"
    assert any("earth.tif" in w for w in summary["warnings"])
    collection = json.loads((out / "detections.geojson").read_text())
    assert all(f["geometry"] is None for f in collection["features"])


def test_warnings_are_not_printed_on_an_error_path(inputs, tmp_path, monkeypatch, capsys):
    """The Earth-CRS warning comes before the memory refusal: only the error is printed."""
    out = tmp_path / "out"
    code, _, err = _run(
        monkeypatch, capsys, "find", inputs["before"], inputs["earth"], "--out", out,
        "--body", "mars", "--max-memory", "10M",
    )  # fmt: skip
    assert "memory" in _one_error(code, err)


# measured peaks (MB) of find, 2 tile threads: image.memory's calibration table
MEASURED = [
    (256, 256, 2048, 256),
    (1024, 1024, 2048, 373),
    (4096, 4096, 2048, 614),
    (4096, 4096, 1024, 433),
    (8192, 8192, 2048, 850),
    (8192, 8192, 1024, 637),
    (16384, 16384, 2048, 1164),
    (50000, 20000, 2048, 1220),
]


@pytest.mark.parametrize(("width", "height", "tile", "peak_mb"), MEASURED)
def test_memory_estimate_is_above_each_measured_peak_and_near_it(width, height, tile, peak_mb):
    from orbitscout.image.gdal import GDAL_CACHE_BYTES
    from orbitscout.image.memory import estimate_bytes

    need = estimate_bytes(width, height, tile, 2, 64, 8, GDAL_CACHE_BYTES, 4 * width * height)
    assert peak_mb <= need / 2**20 <= 1.4 * peak_mb


def test_memory_sizes_parse():
    from orbitscout.image.memory import format_bytes, parse_size

    assert parse_size("8G") == parse_size("8GiB") == parse_size("8gb") == 8 * 2**30
    assert parse_size("512M") == 512 * 2**20 and parse_size("1000") == 1000
    assert parse_size(2.5e9) == 2_500_000_000
    for bad in ("", "lots", "-1G", "0", "nan", "1X"):
        with pytest.raises(ValueError):
            parse_size(bad)
    assert format_bytes(22 * 2**30) == "22 GB" and format_bytes(310 * 2**20) == "310 MB"


@pytest.mark.parametrize(
    ("options", "what"),
    [
        ({"min_score": float("nan")}, "--min-score"),
        ({"min_score": 1.5}, "--min-score"),
        ({"gsd_m": 0.0}, "--gsd"),
        ({"gsd_m": -1.0}, "--gsd"),
        ({"tile": 100}, "--tile"),
        ({"band": (0, 1)}, "--band"),
        ({"band": (1, 2, 3)}, "--band"),
        ({"max_memory": "lots"}, "--max-memory"),
        ({"max_memory": "1M"}, "after.tif"),
    ],
)
def test_library_find_checks_its_options_first(inputs, tmp_path, options, what):
    from orbitscout.core.errors import OrbitscoutError
    from orbitscout.pipeline import find

    with pytest.raises(OrbitscoutError) as caught:
        find(inputs["before"], inputs["after"], tmp_path / "out", **options)
    assert caught.value.path.endswith(what)
    assert not (tmp_path / "out").exists()


def test_a_crs_gdal_cannot_relate_is_one_short_line(inputs, tmp_path, monkeypatch, capsys):
    """PROJ's refusal spells out both CRSs (500 characters of PROJJSON in survey.csv before):
    the line names BEFORE and keeps GDAL's words, the CRSs left out."""
    import json as _json

    from rasterio._err import CPLE_NotSupportedError

    from orbitscout.core.bodies import MARS, local_map_crs
    from orbitscout.image import grid

    other = bi.regrid(inputs["before"], tmp_path / "other.tif", local_map_crs(MARS, 18.0, 77.0))
    blob = _json.dumps(_json.loads(local_map_crs(MARS, 18.0, 77.0).to_json()), indent=2)

    def refuse(*_args, **_kwargs):
        raise CPLE_NotSupportedError(
            6, 6, f"Cannot find coordinate operations from '{blob}' to 'EPSG:32633'"
        )

    monkeypatch.setattr(grid, "WarpedVRT", refuse)
    out = tmp_path / "out"
    code, _, err = _run(monkeypatch, capsys, "find", other, inputs["after"], "--out", out)
    line = _one_error(code, err)
    assert "other.tif: cannot be brought onto the AFTER image's grid" in line, line
    assert "Cannot find coordinate operations" in line and "ProjectedCRS" not in line
    assert len(line) < 400 and not out.exists()


def test_a_system_refusal_while_writing_is_one_line(inputs, tmp_path, monkeypatch, capsys):
    """A full disk (or any OSError) while writing the outputs: one line naming the path."""
    import errno

    from orbitscout import pipeline

    out = tmp_path / "out"

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "detections.gpkg"))

    monkeypatch.setattr(pipeline, "staged_outputs", full)
    code, _, err = _run(
        monkeypatch, capsys, "find", inputs["before"], inputs["after"], "--out", out
    )
    line = _one_error(code, err)
    assert line.endswith("detections.gpkg: No space left on device"), line
