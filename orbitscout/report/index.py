"""``index.html`` of a survey: one table over all pairs, linking to each pair's report."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote

from orbitscout.core.atomic import write_file_atomic
from orbitscout.core.classes import CLASSES
from orbitscout.report.pictures import CLASS_COLOURS

INDEX = "index.html"


def index_page(rows: Iterable[Mapping[str, object]], out_dir: str | Path) -> Path:
    """Write ``out_dir/index.html``: a table of the survey's pairs with counts per class, each
    pair linked to its ``NAME/report.html``.

    Parameters
    ----------
    rows : iterable of mapping
        Rows as ``survey.csv`` holds them (strings or numbers): ``pair``, ``status``, one column
        per class, and optionally ``detections``, ``seconds`` and ``error``.
    out_dir : str or pathlib.Path
        The survey's output folder (holding one folder per pair).

    Returns
    -------
    pathlib.Path
        The page written (atomically: complete or absent).
    """
    out_dir = Path(out_dir)
    esc = html.escape
    rows = list(rows)
    head = "".join(
        f"<th title='{esc(k)}'><span class='swatch' style='border-color:{CLASS_COLOURS[k]}'>"
        f"</span>{esc(k.replace('_', ' '))}</th>"
        for k in CLASSES
    )
    body = []
    totals = dict.fromkeys(CLASSES, 0)
    ok = 0
    for row in rows:
        name = str(row.get("pair", ""))
        status = str(row.get("status", ""))
        report = out_dir / name / "report.html"
        link = (
            f"<a href='{esc(quote(name))}/report.html'>{esc(name)}</a>"
            if status == "ok" or report.exists()
            else esc(name)
        )
        cells = []
        for k in CLASSES:
            value = _int(row.get(k))
            if value is not None:
                totals[k] += value
            cells.append(f"<td class='{'zero' if not value else ''}'>{_show(value)}</td>")
        ok += status == "ok"
        error = str(row.get("error") or "")
        body.append(
            f"<tr class='{esc(status)}'><td class='l'>{link}</td>"
            f"<td class='l'>{esc(status)}</td>{''.join(cells)}"
            f"<td>{_show(_int(row.get('detections')))}</td>"
            f"<td>{esc(str(row.get('seconds') or ''))}</td>"
            f"<td class='l err'>{esc(error)}</td></tr>"
        )
    total_cells = "".join(f"<td>{totals[k]}</td>" for k in CLASSES)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>orbitscout survey: {len(rows)} pairs</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; padding: 0.8em 1em; color: #222; }}
h1 {{ font-size: 1.4em; }}
.scroll {{ overflow-x: auto; }}
table {{ border-collapse: collapse; font-size: 0.9em; font-variant-numeric: tabular-nums; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; white-space: nowrap; }}
th {{ background: #eee; }}
td.l, th.l {{ text-align: left; }}
td.zero {{ color: #aaa; }}
td.err {{ white-space: normal; max-width: 30em; color: #a00; font-size: 0.9em; }}
tr.failed {{ background: #fff0f0; }}
tfoot td {{ font-weight: bold; }}
.swatch {{ display: inline-block; width: 0.8em; height: 0.8em; border: 3px solid #999;
  border-radius: 50%; background: #333; margin-right: 0.25em; vertical-align: -0.1em;
  box-shadow: 0 0 0 1px #555; }}
@media (max-width: 480px) {{ body {{ padding: 0.5em; }} table {{ font-size: 0.8em; }} }}
</style></head><body>
<h1>orbitscout survey</h1>
<p>{len(rows)} pairs, {ok} done. Each name opens that pair's report.</p>
<div class="scroll"><table>
<thead><tr><th class="l">pair</th><th class="l">status</th>{head}<th>detections</th><th>seconds</th>
<th>error</th></tr></thead>
<tbody>
{"".join(body)}
</tbody>
<tfoot><tr><td class="l">all</td><td></td>{total_cells}<td></td><td></td><td></td></tr></tfoot>
</table></div>
</body></html>
"""
    target = out_dir / INDEX
    out_dir.mkdir(parents=True, exist_ok=True)
    write_file_atomic(target, page.encode("utf-8"))
    return target


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _show(value: int | None) -> str:
    return "" if value is None else str(value)
