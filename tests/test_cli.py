"""The command line never crashes on a usage mistake: one error line, exit status 2."""

from __future__ import annotations

import sys

import pytest

from orbitscout.cli import app, main

COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands)
# an option every command has, and a required one each lacks when given only its arguments
REQUIRED = {
    "find": ["a.tif", "b.tif"],  # --out missing
    "survey": ["pairs.csv"],  # --out missing
    "simulate": ["--camera", "ctx"],  # --out missing
    "evaluate": ["dets.geojson"],  # TRUTH missing
    "demo": None,  # everything has a default
    "edl": None,
    "time": None,
    "plan": ["--orbiter", "mro"],  # --site missing
    "relay": ["--orbiter", "mro"],  # --site missing
}


def _run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["orbitscout", *args])
    code = 0
    try:
        main()
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("orbitscout: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_every_command_is_covered():
    assert set(COMMANDS) == set(REQUIRED)


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_option(monkeypatch, capsys, command):
    code, _, err = _run(monkeypatch, capsys, command, "--no-such-option")
    assert code == 2
    line = _one_error_line(err)
    assert f"orbitscout {command}" in line and "--no-such-option" in line


@pytest.mark.parametrize("command", [c for c in COMMANDS if REQUIRED[c] is not None])
def test_no_arguments_and_missing_required(monkeypatch, capsys, command):
    for args in ([], REQUIRED[command]):
        code, out, err = _run(monkeypatch, capsys, command, *args)
        assert code == 2, (args, out, err)
        line = _one_error_line(err)
        assert "Missing" in line, line


def test_unknown_command(monkeypatch, capsys):
    code, _, err = _run(monkeypatch, capsys, "nosuch")
    assert code == 2
    assert "No such command 'nosuch'" in _one_error_line(err)


def test_bare_orbitscout_prints_help(monkeypatch, capsys):
    code, out, err = _run(monkeypatch, capsys)
    assert code == 2 and err == ""
    assert "Usage: orbitscout" in out and "find" in out


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_names_types_in_words(monkeypatch, capsys, command):
    code, out, _ = _run(monkeypatch, capsys, *([command] if command else []), "--help")
    assert code == 0
    assert "Usage: orbitscout" in out
    assert "<bool>" not in out and "<str>" not in out
