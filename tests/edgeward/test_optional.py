"""A missing optional module is one line naming the extra, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from edgeward.cli import EXIT_USAGE
from edgeward.optional import MissingExtra, require
from middleware.cli import dpi_report, dpi_watch


def test_require_returns_the_module() -> None:
    assert require("json", extra="x") is sys.modules["json"]


def test_require_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "maxminddb", None)  # as if not installed
    with pytest.raises(MissingExtra) as caught:
        require("maxminddb", extra="mmdb", needed_for="x.mmdb: a MaxMind table needs maxminddb")
    assert str(caught.value) == (
        "x.mmdb: a MaxMind table needs maxminddb, which is not installed: "
        "pip install 'edgeward[mmdb]'"
    )


def test_a_broken_import_inside_an_installed_module_is_not_hidden(tmp_path: Path) -> None:
    (tmp_path / "half_installed.py").write_text("import not_there_either_4711\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(ModuleNotFoundError, match="not_there_either_4711"):
            require("half_installed", extra="x")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("half_installed", None)


@pytest.mark.parametrize(
    "argv",
    [
        ["dpi-watch", "tail", "{log}", "--asn-table", "{mmdb}", "--metrics-listen", "127.0.0.1:0"],
        ["dpi-report", "--asn-table", "{mmdb}", "{log}"],
    ],
    ids=["dpi-watch", "dpi-report"],
)
def test_commands_name_the_mmdb_extra(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "maxminddb", None)
    files = {"log": tmp_path / "access.log", "mmdb": tmp_path / "GeoLite2-ASN.mmdb"}
    files["log"].write_text(
        '127.0.0.1 - - [03/Dec/2026:06:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'
    )
    files["mmdb"].write_bytes(b"not read: the module is missing first")
    args = [a.format(**{k: str(v) for k, v in files.items()}) for a in argv[1:]]
    main = dpi_watch.main if argv[0] == "dpi-watch" else dpi_report.main
    assert main(args) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        f"error: {files['mmdb']}: a MaxMind table needs maxminddb, which is not installed: "
        "pip install 'edgeward[mmdb]'"
    )
    assert not any("Traceback" in line for line in err)
