"""A Mars year (687 days) of TGO imaging windows and relay passes over Jezero.

Goal: under 1 s each on 2 cores. Run: ``python bench/bench_plan.py [--markdown FILE]``. Prints
the best of a few runs (after a warm-up) and, for scale, what a 1 s brute-force scan of one day
costs; ``--markdown docs/performance.md`` also writes that table into the file's ``bench_plan``
section (see ``find_vs_read.write_section``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from find_vs_read import markdown_table, write_section  # noqa: E402

from orbitscout.observe import marstime  # noqa: E402
from orbitscout.observe.orbits import get_orbiter  # noqa: E402
from orbitscout.observe.plan import (  # noqa: E402
    imaging_windows,
    look_geometry,
    relay_passes,
    site_vector,
)

JEZERO = (18.4447, 77.4508)  # Perseverance, NASA/JPL (docs/facts.md)
START = "2021-02-18T00:00:00Z"
DAYS = 687.0


def _best(fn, repeat=3):
    fn()  # warm-up
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--markdown",
        metavar="FILE",
        help="also write the table into FILE's bench_plan section (docs/performance.md)",
    )
    args = parser.parse_args()
    tgo = get_orbiter("tgo")
    t_img, windows = _best(lambda: imaging_windows(JEZERO, tgo, START, DAYS))
    t_rel, passes = _best(lambda: relay_passes(JEZERO, tgo, START, DAYS, 10.0))
    print(
        f"imaging windows, TGO over Jezero, {DAYS:g} days: {t_img:.3f} s ({len(windows)} windows)"
    )
    print(f"relay passes,    TGO over Jezero, {DAYS:g} days: {t_rel:.3f} s ({len(passes)} passes)")
    site = site_vector(tgo.body, *JEZERO)
    t0 = marstime.parse_utc(START)

    def brute_day():
        t = t0 + np.arange(0, 86400.0, 1.0)
        return look_geometry(tgo, site, t).elevation_deg >= 10.0

    t_brute, _ = _best(brute_day, repeat=1)
    print(
        f"for scale: 1 s brute-force geometry of ONE day: {t_brute:.3f} s "
        f"(a Mars year that way: ~{t_brute * DAYS:.0f} s)"
    )
    goal = "met" if max(t_img, t_rel) < 1.0 else "NOT met"
    print(f"goal < 1 s each: {goal}")
    if args.markdown:
        rows = [
            [f"imaging windows, {DAYS:g} days", f"{t_img:.3f}", f"{len(windows)} windows"],
            [f"relay passes (≥ 10°), {DAYS:g} days", f"{t_rel:.3f}", f"{len(passes)} passes"],
            ["for scale: 1 s brute-force geometry of one day", f"{t_brute:.3f}", ""],
        ]
        lines = [
            f"TGO over Jezero {JEZERO}, from {START}; best of 3 after a warm-up. "
            f"Goal < 1 s each: {goal}.",
            "",
            *markdown_table(["computation", "seconds", "result"], rows),
        ]
        write_section(args.markdown, "bench_plan", lines)


if __name__ == "__main__":
    main()
