"""The documentation site in docs/ builds, with no broken link.

`mkdocs build --strict` fails on any warning, and mkdocs.yml's `validation`
makes a warning of every link to a missing page or heading and of every page
left out of the nav.
"""

import importlib.util
import os
import subprocess
import sys

import pytest

from tests import conftest


def test_docs_hold_prose_and_pictures_only():
  scripts = [os.path.join(root, name)
             for root, _, names in os.walk(os.path.join(conftest.REPO_ROOT,
                                                        "docs"))
             for name in names if name.endswith(".py")]
  assert not scripts, "scripts that make figures belong in tools/"


def test_mkdocs_build_strict(tmp_path):
  missing = [name for name in ("mkdocs", "material")
             if importlib.util.find_spec(name) is None]
  if missing:
    pytest.skip(f"{', '.join(missing)} not installed: the test extras "
                "(pip install -e \".[test]\", as .ci/run does) install "
                "mkdocs and mkdocs-material, and CI runs this test.")
  site_dir = tmp_path / "site"
  result = subprocess.run(
      [sys.executable, "-m", "mkdocs", "build", "--strict",
       "--config-file", os.path.join(conftest.REPO_ROOT, "mkdocs.yml"),
       "--site-dir", str(site_dir)],
      capture_output=True, text=True, timeout=300, cwd=conftest.REPO_ROOT,
      env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
  assert result.returncode == 0, result.stderr[-3000:]
  assert (site_dir / "index.html").is_file()
