"""Survey throughput (pairs per minute) on a LocalCluster of 1 and of 2 worker processes.

Generates (once, cached under bench/.data, git-ignored) N small before/after pairs and runs
``orbitscout.survey.survey`` over them into a fresh output folder per worker count, timing the
whole call (cluster start and shutdown included); the start of the same local cluster alone is
timed apart and printed beside it.

    python bench/survey_throughput.py [--pairs 12] [--size 1024] [--workers 1 2]
                                      [--markdown docs/performance.md]

``--markdown FILE`` also writes the table into FILE's ``survey_throughput`` section (see
``find_vs_read.write_section``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from find_vs_read import DATA, make_pair, markdown_table, write_section  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=12)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument(
        "--markdown",
        metavar="FILE",
        help="also write the table into FILE's survey_throughput section (docs/performance.md)",
    )
    args = parser.parse_args()
    rows = []

    from orbitscout.survey import survey

    survey_module = importlib.import_module("orbitscout.survey")  # the module, not the function

    root = DATA / f"survey_{args.pairs}x{args.size}"
    lines = ["before,after,name"]
    for i in range(args.pairs):
        before, after = make_pair(root / f"p{i:03d}", args.size, args.size, seed=100 + i)
        lines.append(f"{before},{after},p{i:03d}")
    (root / "pairs.csv").write_text("\n".join(lines) + "\n")
    print(f"cores {os.cpu_count()}; {args.pairs} pairs of {args.size} x {args.size} px")
    print(f"{'workers':>7} {'start s':>8} {'survey s':>9} {'pairs/min':>10} {'ok':>4}")
    for n in args.workers:
        clock = time.perf_counter()
        # the local cluster survey itself starts (TLS on 127.0.0.1, no HTTP server), timed apart;
        # closing it at once can log a heartbeat cut short: not a failure, so not shown
        quiet = logging.getLogger("distributed")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            cluster, _ = survey_module._local_cluster(n, dashboard=False)
            with cluster:
                start = time.perf_counter() - clock
        finally:
            quiet.setLevel(level)
        with tempfile.TemporaryDirectory() as tmp:
            clock = time.perf_counter()
            result = survey(root / "pairs.csv", Path(tmp) / "out", workers=n)
            total = time.perf_counter() - clock
        print(
            f"{n:>7} {start:8.1f} {total:9.1f} {args.pairs / total * 60:10.1f} {result.ok:>4}",
            flush=True,
        )
        rows.append(
            [
                str(n),
                f"{start:.1f}",
                f"{total:.1f}",
                f"{args.pairs / total * 60:.1f}",
                f"{result.ok}",
            ]
        )
    if args.markdown:
        lines = [
            f"{args.pairs} generated pairs of {args.size} × {args.size} px on a local cluster "
            "(one thread per worker); survey s includes the cluster's start and shutdown; "
            "start s is the start of the same cluster alone, timed apart.",
            "",
            *markdown_table(["workers", "start s", "survey s", "pairs/min", "ok"], rows),
        ]
        write_section(args.markdown, "survey_throughput", lines)


if __name__ == "__main__":
    main()
