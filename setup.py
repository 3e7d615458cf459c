"""The build step pyproject.toml cannot express: copy the deploy files ``make run`` reads
(``edgeward.shipped.FILES``) into the wheel as ``edgeward/_deploy/``.

``deploy/`` stays the one place they are edited; a checkout reads them there.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def _shipped_files() -> tuple[str, ...]:
    # Loaded by path: the package's dependencies are not installed at build time.
    spec = importlib.util.spec_from_file_location("_shipped", HERE / "edgeward" / "shipped.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.FILES)


class BuildWithDeployFiles(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install reads deploy/ in place
        target = Path(self.build_lib) / "edgeward" / "_deploy"
        for relative in _shipped_files():
            dest = target / relative
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(HERE / "deploy" / relative, dest)


setup(cmdclass={"build_py": BuildWithDeployFiles})
