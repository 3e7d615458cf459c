"""deploy/README.md names files and units that exist."""

from __future__ import annotations

import re

from tests.support.render import DEPLOY, ROOT

README = DEPLOY / "README.md"


def test_paths_in_the_readme_exist() -> None:
    text = README.read_text()
    # Repository paths only: not /etc/letsencrypt/renewal-hooks/deploy/...
    paths = set(re.findall(r"(?<![/\w])deploy/[\w./-]*\w", text))
    assert len(paths) >= 10
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert missing == []


def test_units_named_in_the_readme_exist() -> None:
    units = set(re.findall(r"\b(edgeward-[\w-]+)\.(service|timer)\b", README.read_text()))
    units |= {
        (u, "service")
        for u in re.findall(r"enable --now ((?:edgeward-[\w-]+ ?)+)", README.read_text())[0].split()
    }
    assert units
    for name, kind in units:
        assert (DEPLOY / "systemd" / f"{name}.{kind}").exists(), f"{name}.{kind}"
