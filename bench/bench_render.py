"""How long rendering a before/after pair takes, per camera (goal: < 2 s for a 2048 x 2048
CaSSIS frame). Prints one line per camera, measured in this run after a warm-up.

    python bench/bench_render.py [--size 2048] [--repeat 3] [--markdown docs/performance.md]

``--markdown FILE`` also writes the table into FILE's ``bench_render`` section (see
``find_vs_read.write_section``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from find_vs_read import markdown_table, write_section  # noqa: E402

from orbitscout.sim.render import simulate_pair, write_pair  # noqa: E402

CASES = [
    ("cassis", "perseverance"),
    ("hirise", "random"),
    ("ctx", "schiaparelli"),
    ("nac", "vikram"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--markdown",
        metavar="FILE",
        help="also write the table into FILE's bench_render section (docs/performance.md)",
    )
    args = ap.parse_args()
    rows = []
    simulate_pair("cassis", "perseverance", seed=99, size=256)  # warm-up: imports, FFT plans
    print(f"render a before/after pair, {args.size}x{args.size} px, best of {args.repeat}")
    print(
        f"{'camera':<8}{'layout':<14}{'gsd m':>7}{'pair s':>8}{'per image s':>13}"
        f"{'terrain':>9}{'items':>7}{'psf':>6}{'noise':>7}{'+write s':>10}"
    )
    for camera, layout in CASES:
        best, best_pair = float("inf"), None
        for r in range(args.repeat):
            t0 = time.perf_counter()
            pair = simulate_pair(camera, layout, seed=r, size=args.size)
            dt = time.perf_counter() - t0
            if dt < best:
                best, best_pair = dt, pair
        tim = best_pair.timings["after"]
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            write_pair(best_pair, tmp)
            wr = time.perf_counter() - t0
        print(
            f"{camera:<8}{layout:<14}{best_pair.truth['gsd_m']:>7.2f}{best:>8.2f}{best / 2:>13.2f}"
            f"{tim['terrain']:>9.2f}{tim['items']:>7.2f}{tim['psf']:>6.2f}{tim['noise']:>7.2f}"
            f"{wr:>10.2f}"
        )
        cells = [best_pair.truth["gsd_m"], best, best / 2]
        cells += [tim[k] for k in ("terrain", "items", "psf", "noise")] + [wr]
        rows.append([camera, layout, *(f"{v:.2f}" for v in cells)])
    print("goal: a 2048x2048 CaSSIS frame in < 2 s (one image = half a pair)")
    if args.markdown:
        header = ["camera", "layout", "GSD m", "pair s", "per image s", "terrain s", "items s"]
        header += ["PSF s", "noise s", "+ write s"]
        lines = [
            f"A before/after pair of {args.size} × {args.size} px, best of {args.repeat} "
            "after a warm-up; the stage times are the AFTER image's. "
            "Goal: a 2048 × 2048 CaSSIS frame (half a pair) in < 2 s.",
            "",
            *markdown_table(header, rows, right=2),
        ]
        write_section(args.markdown, "bench_render", lines)


if __name__ == "__main__":
    main()
