"""``survey``: many pairs on a Dask LocalCluster, failures recorded, kills and reruns lose
nothing and repeat nothing."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synth import make_textured_pair as make_pair

from orbitscout import cli
from orbitscout.core.errors import OrbitscoutError
from orbitscout.pipeline import find
from orbitscout.survey import SURVEY_COLUMNS, read_pairs, read_survey, survey

SPOTS = [(100.0, 90.0, 2.0, 1.5), (200.0, 190.0, 4.0, -1.0)]


def _pairs(root: Path, n: int, size: int = 320, broken: int | None = None) -> Path:
    """n small pairs in root/pN/, listed in root/pairs.csv (relative paths); pair ``broken`` has
    a corrupt BEFORE file."""
    lines = ["before,after,name"]
    for i in range(n):
        make_pair(root / f"p{i}", size=size, seed=i, spots=SPOTS)
        if i == broken:
            (root / f"p{i}" / "before.tif").write_bytes(b"II*\x00 this is not a GeoTIFF")
        lines.append(f"p{i}/before.tif,p{i}/after.tif,pair{i}")
    (root / "pairs.csv").write_text("\n".join(lines) + "\n")
    return root / "pairs.csv"


def _lines(out: Path) -> list[dict]:
    with open(out / "survey.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_survey_records_a_broken_pair_and_finishes_the_rest(tmp_path):
    pairs_csv = _pairs(tmp_path, 4, broken=2)
    out = tmp_path / "out"
    result = survey(pairs_csv, out, workers=2)
    assert (result.ok, result.failed, result.skipped) == (3, 1, 0)
    rows = {r["pair"]: r for r in _lines(out)}
    assert list(_lines(out)[0]) == list(SURVEY_COLUMNS)
    assert sorted(rows) == ["pair0", "pair1", "pair2", "pair3"]
    assert rows["pair2"]["status"] == "error"
    assert "p2/before.tif" in rows["pair2"]["error"] and "\n" not in rows["pair2"]["error"]
    for name in ("pair0", "pair1", "pair3"):
        row = rows[name]
        assert row["status"] == "ok" and row["error"] == ""
        summary = json.loads((out / name / "summary.json").read_text())
        assert int(row["detections"]) == summary["detections"]
        assert {c: int(row[c]) for c in summary["counts"]} == summary["counts"]
        assert float(row["seconds"]) > 0
    assert not (out / "pair2" / "summary.json").exists()

    # the same answer as find run alone on the pair
    alone = find(tmp_path / "p1" / "before.tif", tmp_path / "p1" / "after.tif", tmp_path / "alone")
    features = json.loads((out / "pair1" / "detections.geojson").read_text())["features"]
    assert [(f["properties"]["x"], f["properties"]["y"]) for f in features] == [
        (round(c.x, 3), round(c.y, 3)) for c in alone.detections
    ]

    # rerun: finished pairs are skipped, the failed one is tried again, one line per pair
    again = survey(pairs_csv, out, workers=1)
    assert (again.ok, again.failed, again.skipped) == (0, 1, 3)
    assert sorted(r["pair"] for r in _lines(out)) == ["pair0", "pair1", "pair2", "pair3"]


def test_finished_folders_and_partial_lines_are_recovered(tmp_path):
    pairs_csv = _pairs(tmp_path, 2)
    out = tmp_path / "out"
    survey(pairs_csv, out, workers=1)
    # as if killed after pair1's folder was written but while its line was half written
    lines = (out / "survey.csv").read_text().splitlines(keepends=True)
    keep = [ln for ln in lines if not ln.startswith("pair1,")]
    (out / "survey.csv").write_text("".join(keep) + "pair1,o")
    assert [r["pair"] for r in read_survey(out / "survey.csv")] == ["pair0"]
    result = survey(pairs_csv, out, workers=1)  # nothing to run: no cluster is started
    assert (result.ok, result.failed, result.skipped) == (0, 0, 2)
    rows = _lines(out)
    assert sorted(r["pair"] for r in rows) == ["pair0", "pair1"]
    assert all(r["status"] == "ok" for r in rows)


def test_killed_survey_reruns_to_every_pair_once(tmp_path):
    n = 6
    pairs_csv = _pairs(tmp_path, n, size=384)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orbitscout.cli",
            "survey",
            str(pairs_csv),
            "--out",
            str(out),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if any(r["status"] == "ok" for r in read_survey(out / "survey.csv")):
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the survey, its scheduler and its workers
        proc.wait(timeout=30)
    done_before = [r["pair"] for r in read_survey(out / "survey.csv")]
    assert 1 <= len(done_before) < n
    result = survey(pairs_csv, out, workers=2)
    rows = _lines(out)
    assert sorted(r["pair"] for r in rows) == sorted(f"pair{i}" for i in range(n))
    assert all(r["status"] == "ok" for r in rows)
    assert result.skipped >= len(done_before) and result.ok + result.skipped == n


def test_read_pairs_resolves_paths_and_derives_names(tmp_path):
    make_pair(tmp_path / "a", size=64)
    text = (
        "after,before,site,mission,body\n"
        'a/after.tif,a/before.tif,"18.44,77.45",perseverance,Mars\n'
        f"{tmp_path}/a/after.tif,a/before.tif,,,\n"
    )
    (tmp_path / "list.csv").write_text(text)
    pairs = read_pairs(tmp_path / "list.csv")
    assert [p.name for p in pairs] == ["a_after", "a_after-3"]
    assert pairs[0].before == str((tmp_path / "a" / "before.tif").resolve())
    assert pairs[0].site == pytest.approx((18.44, 77.45)) and pairs[0].mission == "perseverance"
    assert pairs[0].body == "mars" and pairs[1].site is None and pairs[1].body is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("before,image\nx.tif,y.tif\n", "has no after column"),
        ("before,after\nmissing.tif,a/after.tif\n", "line 2: before image not found"),
        ("before,after\n", "lists no pairs"),
        (
            "before,after,name\na/before.tif,a/after.tif,x\na/before.tif,a/after.tif,x\n",
            "also on line 2",
        ),
        ('before,after,site\na/before.tif,a/after.tif,"north"\n', "site must be"),
    ],
)
def test_bad_pairs_file_is_one_clear_error(tmp_path, text, message):
    make_pair(tmp_path / "a", size=64)
    (tmp_path / "pairs.csv").write_text(text)
    with pytest.raises(OrbitscoutError, match=message):
        read_pairs(tmp_path / "pairs.csv")


def test_cli_bad_pairs_file_exits_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "pairs.csv").write_text("before\nx.tif\n")
    make_pair(tmp_path / "a", size=64)
    (tmp_path / "good.csv").write_text("before,after\na/before.tif,a/after.tif\n")
    good = str(tmp_path / "good.csv")
    for args in (
        [str(tmp_path / "pairs.csv")],
        [str(tmp_path / "none.csv")],
        [good, "--workers", "0"],
        [good, "--security", str(tmp_path / "good.csv")],
        [good, "--scheduler", "tcp://127.0.0.1:9", "--dashboard"],
    ):
        monkeypatch.setattr(
            sys, "argv", ["orbitscout", "survey", *args, "--out", str(tmp_path / "out")]
        )
        with pytest.raises(SystemExit) as exit_info:
            cli.main()
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("orbitscout: error: ") and "\n" not in err
        assert not (tmp_path / "out").exists()  # checked before anything is created


def test_survey_on_a_running_scheduler_by_address(tmp_path):
    from distributed import LocalCluster

    pairs_csv = _pairs(tmp_path, 2, size=256)
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        result = survey(pairs_csv, tmp_path / "out", scheduler=cluster.scheduler_address)
        with pytest.raises(OrbitscoutError, match="--workers"):
            survey(pairs_csv, tmp_path / "out2", scheduler=cluster.scheduler_address, workers=2)
    assert (result.ok, result.failed) == (2, 0)
    assert sorted(r["pair"] for r in _lines(tmp_path / "out")) == ["pair0", "pair1"]


def test_unreachable_scheduler_is_one_clear_error(tmp_path):
    import dask
    import distributed  # noqa: F401 (its config defaults first: set() would drop them on exit)

    pairs_csv = _pairs(tmp_path, 1, size=64)
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        with pytest.raises(OrbitscoutError, match="cannot reach the Dask scheduler"):
            survey(pairs_csv, tmp_path / "out", scheduler="tcp://127.0.0.1:9")


# --------------------------------------------------------------------------- hardening (#19)


def _tiny(root: Path, n: int, first: int = 0) -> Path:
    """n 96x96 pairs in root/pN/ (tests/synth.py), listed in root/pairs.csv."""
    from synth import Spot
    from synth import make_pair as synth_pair

    lines = ["before,after,name"]
    for i in range(first, first + n):
        (root / f"p{i}").mkdir(parents=True, exist_ok=True)
        synth_pair(root / f"p{i}", size=96, seed=i, shift=(2.0, -1.0), spots=[Spot(30, 30, 3, 0.5)])
        lines.append(f"p{i}/before.tif,p{i}/after.tif,pair{i}")
    (root / "pairs.csv").write_text("\n".join(lines) + "\n")
    return root / "pairs.csv"


def _listening() -> set[int]:
    """Ports this process and its children listen on."""
    import psutil

    me = psutil.Process()
    ports = set()
    for proc in [me, *me.children(recursive=True)]:
        try:
            conns = proc.net_connections(kind="inet")
        except psutil.Error:
            continue
        ports |= {c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN}
    return ports


def _speaks_http(port: int) -> bool:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.settimeout(2)
        sock.sendall(b"GET /info HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            reply = sock.recv(64)
        except (TimeoutError, ConnectionError):
            return False
    return reply.startswith(b"HTTP/")


def _foreign_client_connects(address: str, tmp_path: Path) -> list[str]:
    """Which foreign clients reach the scheduler at ``address``: one with no certificate (plain
    tcp), one with its own temporary certificate that trusts the server's certificate."""
    import ssl

    import dask
    from distributed import Client
    from distributed.security import Security

    host, port = address.split("://")[1].rsplit(":", 1)
    reached = []
    with dask.config.set({"distributed.comm.timeouts.connect": "3s"}):
        try:
            Client(f"tcp://{host}:{port}", timeout=3).close()
            reached.append("no certificate")
        except Exception:
            pass
        try:
            server_cert = ssl.get_server_certificate((host, int(port)))
        except (OSError, ssl.SSLError):  # not TLS at all
            server_cert = None
        if server_cert:
            other = Security.temporary()
            files = {}
            for key, text in (
                ("ca", server_cert),
                ("cert", other.tls_client_cert),
                ("key", other.tls_client_key),
            ):
                files[key] = tmp_path / f"foreign-{key}.pem"
                files[key].write_text(text)
            foreign = Security(
                tls_ca_file=str(files["ca"]),
                tls_client_cert=str(files["cert"]),
                tls_client_key=str(files["key"]),
                require_encryption=True,
            )
            try:
                Client(address, security=foreign, timeout=3).close()
                reached.append("another certificate")
            except Exception:
                pass
    return reached


def test_local_cluster_is_reachable_by_its_own_process_only(tmp_path, monkeypatch):
    """During a survey: every port of the process tree is the cluster's own (scheduler,
    nannies, workers), all TLS, none HTTP (Dask opens 8787 and one per worker by default), and
    clients without the run's certificate cannot connect."""
    import orbitscout.survey as survey_module

    pairs_csv = _tiny(tmp_path, 2)
    cluster: dict = {}

    def on_client(client):
        info = client.scheduler_info()
        cluster["scheduler"] = client.scheduler.address
        cluster["ports"] = {int(client.scheduler.address.rsplit(":", 1)[1])}
        for address, worker in info["workers"].items():
            cluster["ports"] |= {int(address.rsplit(":", 1)[1])}
            cluster["ports"] |= {int(worker["nanny"].rsplit(":", 1)[1])}
            assert address.startswith("tls://127.0.0.1:")

    probes: list[dict] = []

    def probe(row):
        if probes:
            return
        ports = _listening()
        # the scheduler's address comes from the hook (older code has none: not probed)
        foreign = _foreign_client_connects(cluster["scheduler"], tmp_path) if cluster else ["?"]
        probes.append(
            {
                "ports": ports,
                "http": sorted(p for p in ports if _speaks_http(p)),
                "foreign": foreign,
            }
        )

    monkeypatch.setattr(survey_module, "_ON_CLIENT", on_client, raising=False)
    result = survey(pairs_csv, tmp_path / "out", workers=2, on_result=probe)
    assert (result.ok, result.failed) == (2, 0), result.rows
    (seen,) = probes
    assert seen["http"] == []  # Dask's default: 8787 on the scheduler and one per worker
    assert seen["foreign"] == []
    assert cluster["scheduler"].startswith("tls://127.0.0.1:")
    assert len(cluster["ports"]) == 5  # scheduler, 2 nannies, 2 workers
    assert seen["ports"] == cluster["ports"]


def test_dashboard_only_when_asked(tmp_path):
    from orbitscout.survey import dask_client

    messages = []
    before = _listening()
    with dask_client(workers=1, dashboard=True, on_message=messages.append) as client:
        opened = _listening() - before
        http = [p for p in opened if _speaks_http(p)]
        assert len(opened) == 4 and len(http) == 1  # scheduler, dashboard, nanny, worker
        assert client.scheduler.address.startswith("tls://")
    assert len(messages) == 1 and messages[0].startswith("orbitscout: dashboard: http://127.0.0.1:")


def _tls_files(security, folder: Path) -> Path:
    """The client's side of a Security.temporary() as files and a Dask security YAML."""
    (folder / "ca.pem").write_text(security.tls_ca_file)
    (folder / "client.pem").write_text(security.tls_client_cert)
    (folder / "client.key").write_text(security.tls_client_key)
    (folder / "security.yaml").write_text(
        "distributed:\n  comm:\n    tls:\n"
        f"      ca-file: {folder / 'ca.pem'}\n"
        f"      client:\n        cert: {folder / 'client.pem'}\n"
        f"        key: {folder / 'client.key'}\n"
    )
    return folder / "security.yaml"


def test_survey_on_a_tls_scheduler_with_the_users_certificates(tmp_path):
    from distributed import LocalCluster
    from distributed.security import Security

    pairs_csv = _tiny(tmp_path, 1)
    security = Security.temporary()
    yaml_file = _tls_files(security, tmp_path)
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        dashboard_address=None,
        security=security,
        protocol="tls://",
        host="127.0.0.1",
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tls://")
        result = survey(pairs_csv, tmp_path / "out", scheduler=address, security=yaml_file)
        with pytest.raises(OrbitscoutError, match="needs the client's certificates"):
            survey(pairs_csv, tmp_path / "out2", scheduler=address)
    assert (result.ok, result.failed) == (1, 0)
    assert not (tmp_path / "out2").exists()


@pytest.mark.parametrize(
    ("args", "yaml_text", "message"),
    [
        ({"security": "FILE"}, "", "the local cluster makes its own"),
        ({"scheduler": "tcp://127.0.0.1:9", "security": "FILE"}, "", "is for a tls:// scheduler"),
        ({"scheduler": "tls://127.0.0.1:9", "security": "FILE"}, "a: [", "cannot read the Dask"),
        ({"scheduler": "tls://127.0.0.1:9", "security": "FILE"}, "a: 1\n", "names no TLS"),
        (
            {"scheduler": "tls://127.0.0.1:9", "security": "FILE"},
            "distributed.comm.tls.ca-file: nowhere.pem\ndistributed.comm.tls.client.cert: x\n",
            "names no TLS",
        ),
        ({"scheduler": "tls://127.0.0.1:9", "security": "missing.yaml"}, None, "file not found"),
        ({"scheduler": "tcp://127.0.0.1:9", "dashboard": True}, None, "serves its own"),
        ({"workers": 0}, None, "--workers must be at least 1"),
        ({"tile": 16}, None, "--tile must be at least 256"),
        ({"min_score": float("nan")}, None, "--min-score must be between 0 and 1"),
    ],
)
def test_bad_cluster_options_are_one_line_before_anything_is_created(
    tmp_path, args, yaml_text, message
):
    pairs_csv = tmp_path / "pairs.csv"
    pairs_csv.write_text("before,after\nnone.tif,none.tif\n")  # never read: options first
    if args.get("security") == "FILE":
        (tmp_path / "security.yaml").write_text(yaml_text or "")
        args = {**args, "security": tmp_path / "security.yaml"}
    elif args.get("security"):
        args = {**args, "security": tmp_path / args["security"]}
    with pytest.raises(OrbitscoutError, match=message) as info:
        survey(pairs_csv, tmp_path / "out", **args)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_plain_tcp_scheduler_off_the_loopback_is_warned_about():
    from orbitscout.survey import _address_parts, _on_loopback

    def warned(address):
        scheme, host = _address_parts(address)
        return scheme == "tcp" and not _on_loopback(host)

    assert warned("tcp://10.1.2.3:8786") and warned("scheduler.example:8786")
    assert warned("tcp://[2001:db8::1]:8786")
    for address in ("tcp://127.0.0.1:8786", "localhost:8786", "tcp://[::1]:8786", "tls://h:1"):
        assert not warned(address)


def test_survey_warns_in_one_line_for_a_plain_loopback_free_address(tmp_path, monkeypatch):
    """The warning is printed before connecting (the connection itself is not tried here:
    the client is replaced)."""
    import distributed

    import orbitscout.survey as survey_module

    class Refused(OSError):
        pass

    def no_client(*args, **kwargs):
        raise Refused("not tried in tests")

    monkeypatch.setattr(distributed, "Client", no_client)
    messages = []
    with pytest.raises(OrbitscoutError, match="cannot reach the Dask scheduler"):
        with survey_module.dask_client("tcp://10.1.2.3:8786", on_message=messages.append):
            pass
    assert len(messages) == 1 and "\n" not in messages[0]
    assert messages[0].startswith("orbitscout: warning: tcp://10.1.2.3:8786: a plain tcp://")


def _summary_after(out: Path, name: str) -> str:
    return json.loads((out / name / "summary.json").read_text())["after"]["path"]


def test_resume_by_content_redoes_changed_and_broken_pairs(tmp_path, monkeypatch, capsys):
    import orbitscout.survey as survey_module

    pairs_csv = _tiny(tmp_path, 4)
    _tiny(tmp_path / "other", 1, first=7)  # other images for pair0
    out = tmp_path / "out"
    first = survey(pairs_csv, out, workers=1)
    assert (first.ok, first.skipped, first.redone) == (4, 0, 0)
    record = json.loads((out / "pair0" / ".survey.json").read_text())
    assert set(record["before"]) == {"path", "size", "mtime_ns", "sha256_ends"}
    assert record["before"]["path"] == "p0/before.tif"  # relative to PAIRS.csv
    assert str(tmp_path) not in (out / "pair0" / ".survey.json").read_text()

    # pair0: other images under the same name; pair1: its AFTER image rewritten in place;
    # pair2: a truncated summary.json; pair3: untouched
    text = pairs_csv.read_text().replace(
        "p0/before.tif,p0/after.tif", "other/p7/before.tif,other/p7/after.tif"
    )
    pairs_csv.write_text(text)
    data = bytearray((tmp_path / "p1" / "after.tif").read_bytes())
    data[-1] ^= 1
    (tmp_path / "p1" / "after.tif").write_bytes(bytes(data))
    summary = (out / "pair2" / "summary.json").read_bytes()
    (out / "pair2" / "summary.json").write_bytes(summary[: len(summary) // 2])
    again = survey(pairs_csv, out, workers=1)
    assert again.redo_reasons == {"images changed": 2, "outputs incomplete": 1}
    assert (again.ok, again.skipped, again.redone) == (3, 1, 3)
    assert _summary_after(out, "pair0").endswith("p7/after.tif")
    json.loads((out / "pair2" / "summary.json").read_text())  # whole again
    assert sorted(r["pair"] for r in _lines(out)) == [f"pair{i}" for i in range(4)]

    # an image touched (same content, new modification time) is redone too
    os.utime(tmp_path / "p3" / "before.tif", ns=(1, 1))
    touched = survey(pairs_csv, out, workers=1)
    assert touched.redo_reasons == {"images changed": 1}

    # other options, another version: everything again, and the command says so
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "orbitscout",
            "survey",
            str(pairs_csv),
            "--out",
            str(out),
            "--workers",
            "1",
            "--min-score",
            "0.01",
        ],
    )
    cli.main()
    lines = capsys.readouterr().out.splitlines()[-2:]  # after the progress bar
    assert "4 pairs done, 0 failed, 0 already done" in lines[0]
    assert lines[1] == "4 pairs redone (4 options changed)"
    monkeypatch.setattr(survey_module, "__version__", "999")
    later = survey(pairs_csv, out, workers=1, min_score=0.01)
    assert later.redo_reasons == {"version changed": 4}


def test_an_ok_line_without_a_record_is_redone(tmp_path):
    pairs_csv = _tiny(tmp_path, 2)
    out = tmp_path / "out"
    survey(pairs_csv, out, workers=1)
    (out / "pair1" / ".survey.json").unlink()  # as results of a version without records
    again = survey(pairs_csv, out, workers=1)
    assert again.redo_reasons == {"no record": 1} and again.skipped == 1
    assert (out / "pair1" / ".survey.json").is_file()


def test_workers_0_creates_nothing_and_bad_names_are_refused(tmp_path):
    make_pair(tmp_path / "a", size=64)
    (tmp_path / "pairs.csv").write_text("before,after\na/before.tif,a/after.tif\n")
    with pytest.raises(OrbitscoutError, match="--workers must be at least 1"):
        survey(tmp_path / "pairs.csv", tmp_path / "out", workers=0)
    assert not (tmp_path / "out").exists()
    for name in ("survey.csv", "Survey.CSV"):
        (tmp_path / "pairs.csv").write_text(f"before,after,name\na/before.tif,a/after.tif,{name}\n")
        with pytest.raises(OrbitscoutError, match="line 2: pair name .* the survey's own file"):
            read_pairs(tmp_path / "pairs.csv")
    (tmp_path / "pairs.csv").write_text(
        "before,after,name\na/before.tif,a/after.tif,A\na/before.tif,a/after.tif,a\n"
    )
    with pytest.raises(OrbitscoutError, match="also on line 2"):
        read_pairs(tmp_path / "pairs.csv")


def test_band_column_one_band_or_one_per_image(tmp_path):
    make_pair(tmp_path / "a", size=96, spots=SPOTS)
    (tmp_path / "pairs.csv").write_text(
        "before,after,band,name\na/before.tif,a/after.tif,1,one\n"
        'a/before.tif,a/after.tif,"1,2",two\na/before.tif,a/after.tif,,none\n'
    )
    pairs = read_pairs(tmp_path / "pairs.csv")
    assert [p.band for p in pairs] == [(1, 1), (1, 2), None]
    for bad in ("0", "x", "1,2,3"):
        (tmp_path / "bad.csv").write_text(f'before,after,band\na/before.tif,a/after.tif,"{bad}"\n')
        with pytest.raises(OrbitscoutError, match="line 2: band must be"):
            read_pairs(tmp_path / "bad.csv")
    # each image's band reaches find: the AFTER image has no band 2
    result = survey(tmp_path / "pairs.csv", tmp_path / "out", workers=1)
    rows = {r["pair"]: r for r in result.rows}
    assert rows["one"]["status"] == "ok" and rows["none"]["status"] == "ok"
    assert rows["two"]["status"] == "error"
    assert rows["two"]["error"] == "a/after.tif: has no band 2 (it has 1)"


def test_outputs_are_0644_and_hold_no_absolute_paths(tmp_path):
    pairs_csv = _pairs(tmp_path, 2, size=64, broken=1)
    out = tmp_path / "out"
    old = os.umask(0o022)
    try:
        survey(pairs_csv, out, workers=1)
    finally:
        os.umask(old)
    assert (out / "survey.csv").stat().st_mode & 0o777 == 0o644
    assert (out / "pair0" / ".survey.json").stat().st_mode & 0o777 == 0o644
    for path in (out / "survey.csv", out / "pair0" / ".survey.json"):
        assert str(tmp_path) not in path.read_text()
    assert "p1/before.tif" in {r["pair"]: r for r in _lines(out)}["pair1"]["error"]


def test_max_memory_is_each_pairs_budget(tmp_path):
    """A budget below what a pair needs refuses it (its row says so) and leaves the others'
    resume key alone: the same survey with room to spare then runs it."""
    pairs_csv = _pairs(tmp_path, 1)
    out = tmp_path / "out"
    tight = survey(pairs_csv, out, workers=1, max_memory=64 * 2**20)
    assert (tight.ok, tight.failed) == (0, 1)
    assert "--max-memory" in tight.rows[0]["error"]
    roomy = survey(pairs_csv, out, workers=1, max_memory=8 * 2**30)
    assert (roomy.ok, roomy.failed) == (1, 0)
    # find's own outputs name the images as PAIRS.csv does, not by this machine's paths
    summary = json.loads((out / "pair0" / "summary.json").read_text())
    assert (summary["before"]["path"], summary["after"]["path"]) == (
        "p0/before.tif",
        "p0/after.tif",
    )
    for name in ("summary.json", "report.html", "detections.geojson"):
        assert str(tmp_path) not in (out / "pair0" / name).read_text(), name


def test_index_page_links_every_pair(tmp_path):
    """``index.html`` lists each pair of survey.csv with its status, linking the ones done to
    their report; it is rewritten on a rerun that has nothing to do."""
    pairs_csv = _pairs(tmp_path, 2, broken=1)
    out = tmp_path / "out"
    survey(pairs_csv, out, workers=1)
    page = (out / "index.html").read_text()
    assert "href='pair0/report.html'" in page or 'href="pair0/report.html"' in page
    assert "pair1" in page and "error" in page
    (out / "index.html").unlink()
    assert survey(pairs_csv, out, workers=1).skipped == 1
    assert (out / "index.html").is_file()
