"""``find`` on whole products against a plain read of the same two files, and its peak memory.

For each size, generates (once, cached under bench/.data, git-ignored) a before/after pair of
uint16 tiled deflate GeoTIFFs like real products (textured terrain, a shift, a gain change,
noise, a few hundred planted spots), then measures in this run, each in a fresh subprocess:
- ``read``: a plain rasterio read of both files, window by window (the I/O and decompression
  floor; best of two, page cache warm);
- ``find``: ``orbitscout.pipeline.find`` on the pair (outputs included), and its max RSS, the
  share of its time spent writing the report (``report_s``) and the size of its outputs.
Prints find / read per size. Goals: <= 6 at 8k (issue 2), <= 3 at 16k (issue 6), peak memory
<= 1.5 GB at 16k x 16k and 50k x 20k; the report under 10 % of find's time and the outputs under
50 MB at 16k (issue 18).

    python bench/find_vs_read.py [--sizes 4096 8192 16384] [--extra 50000x20000] [--tile 2048]
                                 [--markdown docs/performance.md]

``--markdown FILE`` also writes the table into FILE's section between ``<!-- find_vs_read:begin
-->`` and ``<!-- find_vs_read:end -->`` (added at the end if missing), headed by the command line,
the UTC date, the machine and ``git describe --always --dirty``. ``write_section`` is shared by
the other benches.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / ".data"
# the machine's load when the bench started: other work on the same cores slows every figure
LOAD_AT_START = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
SHIFT = (5.3, -3.6)  # a ground point at BEFORE (x, y) lies at AFTER (x + dx, y + dy)
BLOCK = 2048  # generation window


def _git_describe() -> str:
    try:
        proc = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not run)"
    return proc.stdout.strip() or "unknown (not a git checkout)"


def _machine() -> str:
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        ram = f", {mem:.0f} GB RAM"
    except (ValueError, OSError, AttributeError):
        ram = ""
    load = "" if LOAD_AT_START is None else f", 1-min load average {LOAD_AT_START:.1f} at start"
    return f"{os.cpu_count()} cores{ram}{load}, Python {sys.version.split()[0]}"


def _command_line() -> str:
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(ROOT)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


def markdown_table(header: list[str], rows: list[list[str]], right: int = 1) -> list[str]:
    """A Markdown table; columns from index ``right`` on are right-aligned."""
    align = ["---" if i < right else "---:" for i in range(len(header))]
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(align) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def write_section(path: str | Path, name: str, lines: list[str]) -> None:
    """Replace FILE's ``<!-- NAME:begin -->`` ... ``<!-- NAME:end -->`` section (or append one)
    with ``lines``, headed by the command line, the UTC date, the machine and the code version.
    The file is replaced whole (a temporary file renamed over it)."""
    path = Path(path)
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        begin,
        "<!-- written by the bench: rerun the command below rather than editing by hand -->",
        f"Written by `{_command_line()}` on {now}, code `{_git_describe()}`, {_machine()}.",
        "",
        *lines,
        end,
    ]
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    start, stop = text.find(begin), text.find(end)
    if start >= 0 and stop > start:
        text = text[:start] + "\n".join(body) + text[stop + len(end) :]
    elif start >= 0 or stop >= 0:
        sys.exit(f"{path}: section {name!r} has a begin or an end marker but not both in order")
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + "\n".join(body) + "\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    print(f"wrote section {name!r} of {path}")


def _noise_grid(rng, width: int, height: int, cell: int):
    import numpy as np

    return rng.normal(size=(height // cell + 6, width // cell + 6)).astype(np.float32)


# the sun-changed pairs: relief of this RMS slope lit from BEFORE's sun, then from AFTER's,
# whose incidence is ``sun_change`` degrees higher and azimuth 1.5 times that further round
RMS_SLOPE_DEG = 8.0
SUN_BEFORE = (120.0, 45.0)  # azimuth clockwise from north, incidence (degrees)


def sun_pair(sun_change: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """BEFORE's and AFTER's suns (azimuth, incidence; degrees) of a pair ``sun_change``
    degrees of incidence apart."""
    return SUN_BEFORE, (SUN_BEFORE[0] + 1.5 * sun_change, SUN_BEFORE[1] + sun_change)


def make_pair(
    folder: Path, width: int, height: int, seed: int = 0, sun_change: float = 0.0
) -> tuple[Path, Path]:
    """Write before.tif / after.tif (width x height) window by window in bounded memory.

    With ``sun_change`` (degrees) > 0 the ground also has relief (RMS slope RMS_SLOPE_DEG),
    shaded by a Lambert law under SUN_BEFORE in BEFORE and under a sun ``sun_change`` degrees
    higher in incidence and ``1.5 * sun_change`` further in azimuth in AFTER: unchanged relief
    whose shading changed, the planted spots the only changes of the ground."""
    import cv2
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    from orbitscout.core.bodies import MARS, local_map_crs

    folder.mkdir(parents=True, exist_ok=True)
    before_path, after_path = folder / "before.tif", folder / "after.tif"
    if (folder / "done").exists():
        return before_path, after_path
    rng = np.random.default_rng(seed)
    # value noise: octaves of Gaussian grids interpolated (cubic) at any ground position
    octaves = [
        (cell, amp, _noise_grid(rng, width, height, cell))
        for cell, amp in ((2, 0.6), (6, 1.0), (24, 2.0), (96, 4.0), (384, 6.0))
    ]
    relief = [
        (cell, amp, _noise_grid(rng, width, height, cell))
        for cell, amp in ((6, 0.5), (24, 2.0), (96, 6.0), (384, 12.0))
    ]
    n_spots = max(20, width * height // 1_000_000)
    spots = np.column_stack(
        [
            rng.uniform(0, width, n_spots),
            rng.uniform(0, height, n_spots),
            rng.uniform(0.5, 10, n_spots),
            rng.choice([-1.0, 1.0], n_spots) * rng.uniform(1, 3, n_spots),
        ]
    )

    def ground(x0, y0, w, h, dx=0.0, dy=0.0, fields=octaves):
        xs = np.arange(x0, x0 + w, dtype=np.float64) - dx
        ys = np.arange(y0, y0 + h, dtype=np.float64) - dy
        out = np.zeros((h, w), np.float32)
        for cell, amp, grid in fields:
            # grid node k sits at ground position (k - 3) * cell
            map_x = np.broadcast_to((xs / cell + 3).astype(np.float32), (h, w))
            map_y = np.broadcast_to((ys / cell + 3).astype(np.float32)[:, None], (h, w))
            out += amp * cv2.remap(
                grid, np.ascontiguousarray(map_x), np.ascontiguousarray(map_y), cv2.INTER_CUBIC
            )
        return out

    crs = local_map_crs(MARS, 18.4, 77.5)
    gsd = 0.25
    # relief heights in m per unit of the relief field: its RMS gradient is ~0.28 units / px
    metres = math.tan(math.radians(RMS_SLOPE_DEG)) * gsd / 0.28
    sun_after = sun_pair(sun_change)[1]

    def shading(x0, y0, w, h, sun, dx=0.0, dy=0.0):
        """Lambert shading of the relief under ``sun`` over a window, 1 on flat ground."""
        if not sun_change:
            return 1.0
        z = ground(x0 - 1, y0 - 1, w + 2, h + 2, dx, dy, relief) * metres
        gx = (z[1:-1, 2:] - z[1:-1, :-2]) / (2 * gsd)  # dz/dx, x east
        gy = (z[:-2, 1:-1] - z[2:, 1:-1]) / (2 * gsd)  # dz/dnorth (rows run south)
        az, inc = (math.radians(v) for v in sun)
        se, sn, su = math.sin(inc) * math.sin(az), math.sin(inc) * math.cos(az), math.cos(inc)
        cos_i = (-gx * se - gy * sn + su) / np.sqrt(1 + gx * gx + gy * gy)
        return np.clip(cos_i, 0.0, None) / su

    transform = from_origin(-width / 2 * gsd, height / 2 * gsd, gsd, gsd)
    profile = dict(
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="uint16",
        crs=crs,
        transform=transform,
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
        predictor=2,
        num_threads="ALL_CPUS",
        bigtiff="IF_SAFER",
    )
    with (
        rasterio.open(before_path, "w", **profile) as b_ds,
        rasterio.open(after_path, "w", **profile) as a_ds,
    ):
        for y0 in range(0, height, BLOCK):
            for x0 in range(0, width, BLOCK):
                w, h = min(BLOCK, width - x0), min(BLOCK, height - y0)
                window = Window(x0, y0, w, h)
                shade_b = shading(x0, y0, w, h, SUN_BEFORE)
                before = (1000 + 60 * ground(x0, y0, w, h)) * shade_b + rng.normal(0, 4, (h, w))
                after = ground(x0, y0, w, h, *SHIFT)
                near = spots[
                    (spots[:, 0] > x0 - 20)
                    & (spots[:, 0] < x0 + w + 20)
                    & (spots[:, 1] > y0 - 20)
                    & (spots[:, 1] < y0 + h + 20)
                ]
                for sx, sy, radius, amp in near:
                    c0, c1 = int(max(x0, sx - radius - 2)), int(min(x0 + w, sx + radius + 3))
                    r0, r1 = int(max(y0, sy - radius - 2)), int(min(y0 + h, sy + radius + 3))
                    if c1 <= c0 or r1 <= r0:
                        continue
                    yy, xx = np.mgrid[r0:r1, c0:c1]
                    disc = np.clip(radius + 0.5 - np.hypot(xx - sx, yy - sy), 0, 1)
                    after[r0 - y0 : r1 - y0, c0 - x0 : c1 - x0] += amp * disc
                shade_a = shading(x0, y0, w, h, sun_after, *SHIFT)
                after = (1300 + 78 * after) * shade_a + rng.normal(0, 4, (h, w))
                b_ds.write(np.clip(before, 0, 65535).astype(np.uint16), 1, window=window)
                a_ds.write(np.clip(after, 0, 65535).astype(np.uint16), 1, window=window)
    done = {"width": width, "height": height, "spots": n_spots, "sun_change_deg": sun_change}
    if sun_change:
        done |= {"sun_before": SUN_BEFORE, "sun_after": sun_after, "rms_slope_deg": RMS_SLOPE_DEG}
    (folder / "done").write_text(json.dumps(done))
    return before_path, after_path


READ = """
import resource, sys, time
import rasterio
t = time.perf_counter()
with rasterio.Env(GDAL_CACHEMAX=64 * 2**20):
    for path in sys.argv[1:3]:
        with rasterio.open(path) as ds:
            step = 2048
            for y in range(0, ds.height, step):
                ds.read(1, window=rasterio.windows.Window(0, y, ds.width, min(step, ds.height - y)))
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

FIND = """
import os, resource, sys, time
from orbitscout.core.illumination import Sun
from orbitscout.pipeline import find
suns = [Sun(*map(float, v.split(",")), "option") for v in sys.argv[5:7]] or [None, None]
t = time.perf_counter()
r = find(sys.argv[1], sys.argv[2], sys.argv[3], tile=int(sys.argv[4]),
         sun_before=suns[0], sun_after=suns[1])
elapsed = time.perf_counter() - t
size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(sys.argv[3]) for f in fs)
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, len(r.detections),
      r.summary["timings"]["report_s"], size / 2**20)
"""


PROBE = """
import sys, threading, time
import cv2, numpy as np, rasterio
from rasterio.windows import Window
HALO, TILE = 64, 2048
before, after, how = sys.argv[1:4]

def work(a, b):  # a stand-in for the per-tile detection work: residual and two matched filters
    resid = a.astype(np.float32) - 1.3 * b.astype(np.float32)
    s2 = cv2.GaussianBlur(resid, (17, 17), 2.0)
    s10 = cv2.GaussianBlur(resid, (81, 81), 10.0)
    return (np.abs(s2 - s10) > 50).astype(np.uint8)

t = time.perf_counter()
with rasterio.Env(GDAL_CACHEMAX=256 * 2**20), rasterio.open(after) as da_, \\
        rasterio.open(before) as db_:
    width, height = da_.width, da_.height
    lock = threading.Lock()
    if how == "windowed":
        from concurrent.futures import ThreadPoolExecutor

        def tile(core):
            x, y = core
            x0, y0 = max(0, x - HALO), max(0, y - HALO)
            x1, y1 = min(width, x + TILE + HALO), min(height, y + TILE + HALO)
            w = Window(x0, y0, x1 - x0, y1 - y0)
            with lock:
                a, b = da_.read(1, window=w), db_.read(1, window=w)
            m = work(a, b)
            return int(m[y - y0:y - y0 + TILE, x - x0:x - x0 + TILE].sum())

        cores = [(x, y) for y in range(0, height, TILE) for x in range(0, width, TILE)]
        with ThreadPoolExecutor(2) as pool:
            total = sum(pool.map(tile, cores))
    else:
        import dask, dask.array as da

        class Lazy:  # windowed reads for dask.array.from_array
            def __init__(self, ds):
                self.ds, self.shape, self.dtype, self.ndim = ds, (ds.height, ds.width), np.uint16, 2

            def __getitem__(self, key):
                ys, xs = key
                w = Window(xs.start, ys.start, xs.stop - xs.start, ys.stop - ys.start)
                return self.ds.read(1, window=w)

        a = da.from_array(Lazy(da_), chunks=TILE, lock=lock, asarray=False)
        b = da.from_array(Lazy(db_), chunks=TILE, lock=lock, asarray=False)
        m = da.map_overlap(work, a, b, depth=HALO, boundary="none", dtype=np.uint8)
        with dask.config.set(scheduler="threads", num_workers=2):
            total = int(m.sum().compute())
print(time.perf_counter() - t, total)
"""


def _run(code: str, *args: str) -> list[float]:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"failed: {proc.stderr.strip().splitlines()[-1:]}")
    return [float(v) for v in proc.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[4096, 8192, 16384])
    parser.add_argument(
        "--extra", nargs="*", default=[], help="more sizes as WIDTHxHEIGHT, e.g. 50000x20000"
    )
    parser.add_argument("--tile", type=int, default=2048)
    parser.add_argument(
        "--sun-changes",
        type=float,
        nargs="*",
        default=[0.0, 10.0],
        metavar="DEG",
        help="pairs at each of these sun changes (degrees of incidence; 0: flat ground, as "
        "before issue 16; default 0 10)",
    )
    parser.add_argument(
        "--dask",
        action="store_true",
        help="also time one filter pass by windowed reads + threads against "
        "dask.array map_overlap (threads) on each pair",
    )
    parser.add_argument(
        "--markdown",
        metavar="FILE",
        help="also write the table into FILE's find_vs_read section (docs/performance.md)",
    )
    args = parser.parse_args()
    shapes = [(s, s) for s in args.sizes]
    shapes += [tuple(int(v) for v in e.lower().split("x")) for e in args.extra]
    shapes = [(w, h, sun) for w, h in shapes for sun in args.sun_changes]
    print(f"cores {os.cpu_count()}; tile {args.tile}; each measurement in a fresh subprocess")
    print(
        f"{'size':>13} {'sun':>4} {'MB/file':>8} {'gen s':>7} {'read s':>7} {'find s':>7} "
        f"{'find/read':>9} {'find MB':>8} {'det':>5} {'report %':>8} {'out MB':>7}"
    )
    rows, probes = [], []
    for width, height, sun in shapes:
        folder = DATA / (f"pair_{width}x{height}" + (f"_sun{sun:g}" if sun else ""))
        t = time.perf_counter()
        before, after = make_pair(folder, width, height, sun_change=sun)
        gen = time.perf_counter() - t
        size_mb = (before.stat().st_size + after.stat().st_size) / 2 / 2**20
        read = min(_run(READ, str(before), str(after))[0] for _ in range(2))
        with tempfile.TemporaryDirectory() as tmp:
            # the sun-changed pairs' suns given, as their products' labels would give them
            suns = [",".join(map(str, s)) for s in sun_pair(sun)] if sun else []
            find_s, find_mb, det, report_s, out_mb = _run(
                FIND, str(before), str(after), tmp, str(args.tile), *suns
            )
        report_pct = 100 * report_s / find_s
        print(
            f"{width:>6}x{height:<6} {sun:4g} {size_mb:8.0f} {gen:7.1f} {read:7.2f} {find_s:7.2f} "
            f"{find_s / read:9.2f} {find_mb:8.0f} {det:5.0f} {report_pct:8.1f} {out_mb:7.1f}",
            flush=True,
        )
        rows.append(
            [
                f"{width} × {height}",
                f"{sun:g}°",
                f"{size_mb:.0f}",
                f"{read:.2f}",
                f"{find_s:.2f}",
                f"{find_s / read:.2f}",
                f"{find_mb:.0f}",
                f"{det:.0f}",
                f"{report_pct:.1f}",
                f"{out_mb:.1f}",
            ]
        )
        if args.dask:
            times = {}
            for how in ("windowed", "dask"):
                probe = min(_run(PROBE, str(before), str(after), how)[0] for _ in range(2))
                times[how] = probe
                print(f"{'':>13} filter pass, {how:>8}: {probe:6.2f} s", flush=True)
            probe_row = [f"{times['windowed']:.2f}", f"{times['dask']:.2f}"]
            probes.append([f"{width} × {height}", f"{sun:g}°", *probe_row])
    if args.markdown:
        header = ["pair (px)", "sun change", "MB/file", "read s", "find s", "find / read"]
        header += ["find peak MB", "detections", "report % of find", "outputs MB"]
        lines = markdown_table(header, rows)
        lines.insert(0, f"Tile {args.tile} px; read = best of two; each run in a fresh process.")
        lines.insert(1, "")
        if probes:
            lines += ["", "One filter pass (`--dask`), best of two:", ""]
            lines += markdown_table(
                ["pair (px)", "sun change", "windowed + threads s", "dask.array s"], probes
            )
        write_section(args.markdown, "find_vs_read", lines)


if __name__ == "__main__":
    main()
