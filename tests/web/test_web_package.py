"""The web page from an installed wheel: its templates and static files ship.

Builds colorizer's wheel from a copy of this checkout (so the build leaves
nothing behind in it), installs the wheel into a temporary virtual
environment and, in a subprocess of that environment, fetches the page and
its static files through Flask's test client. It runs from an empty
directory outside the checkout, so the colorizer imported is the wheel's;
the environment borrows its dependencies (Flask, Pillow, NumPy) from this
one through a .pth file, added after the install. Offline: pip neither
downloads nor builds anything but the wheel (--no-index, --no-deps,
--no-build-isolation with the installed setuptools).
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from tests import conftest

REPO_ROOT = conftest.REPO_ROOT
# What `setup.py bdist_wheel` reads: the metadata, the packages it lists.
_SOURCES = ("setup.cfg", "setup.py", "pyproject.toml", "README.md",
            "MANIFEST.in", "colorizer", "pipelines")
_PACKAGE_DATA = ("colorizer/web/templates/index.html",
                 "colorizer/web/static/app.js",
                 "colorizer/web/static/style.css",
                 "colorizer/web/static/favicon.svg")
_TIMEOUT_S = 180

# Runs inside the temporary environment; prints one JSON object.
_FETCH_SCRIPT = """
import json
import colorizer
from colorizer.web import server

client = server.create_app(lambda images: images).test_client()
answers = {"colorizer_file": colorizer.__file__}
for url in ("/", "/static/app.js", "/static/style.css", "/static/favicon.svg"):
  response = client.get(url)
  answers[url] = {"status": response.status_code,
                  "mimetype": response.mimetype,
                  "text": response.get_data(as_text=True)}
print(json.dumps(answers))
"""


def _run(command, **kwargs):
  result = subprocess.run(command, capture_output=True, text=True,
                          timeout=_TIMEOUT_S, check=False, **kwargs)
  assert result.returncode == 0, (command, result.stdout, result.stderr)
  return result.stdout


def _build_wheel(tmp_path):
  source_dir = tmp_path / "source"
  source_dir.mkdir()
  for name in _SOURCES:
    path = os.path.join(REPO_ROOT, name)
    if os.path.isdir(path):
      shutil.copytree(path, source_dir / name, ignore=shutil.ignore_patterns(
          "__pycache__", "*.pyc", "*.egg-info"))
    elif os.path.exists(path):
      shutil.copy2(path, source_dir / name)
  wheel_dir = tmp_path / "wheels"
  _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index",
        "--no-build-isolation", "--quiet", "--wheel-dir", str(wheel_dir),
        str(source_dir)])
  [wheel] = wheel_dir.glob("colorizer-*.whl")
  return wheel


def _site_packages(python):
  return _run([python, "-c", "import sysconfig; "
               "print(sysconfig.get_paths()['purelib'])"]).strip()


@pytest.mark.slow
def test_installed_wheel_serves_page_and_static_files(tmp_path):
  wheel = _build_wheel(tmp_path)
  with zipfile.ZipFile(wheel) as archive:
    names = set(archive.namelist())
  assert set(_PACKAGE_DATA) <= names, sorted(
      name for name in names if name.startswith("colorizer/web/"))

  venv_dir = tmp_path / "venv"
  _run([sys.executable, "-m", "venv", "--system-site-packages",
        "--without-pip", str(venv_dir)])
  python = str(venv_dir / "bin" / "python")
  # This pip, run by the new environment's interpreter, installs there.
  _run([sys.executable, "-m", "pip", "--python", python, "install",
        "--no-deps", "--no-index", "--quiet", str(wheel)])
  venv_site_packages = _site_packages(python)
  # A plain path line: the directory's own .pth files (this checkout's
  # editable install among them) are not run.
  with open(os.path.join(venv_site_packages, "dependencies.pth"), "w",
            encoding="utf-8") as f:
    f.write(sysconfig.get_paths()["purelib"] + "\n")

  run_dir = tmp_path / "elsewhere"
  run_dir.mkdir()
  environment = {key: value for key, value in os.environ.items()
                 if key not in ("PYTHONPATH", "PYTHONHOME")}
  answers = json.loads(_run([python, "-c", _FETCH_SCRIPT], cwd=run_dir,
                            env=environment).strip().splitlines()[-1])

  assert answers["colorizer_file"] == os.path.join(
      venv_site_packages, "colorizer", "__init__.py")
  page = answers["/"]
  assert page["status"] == 200 and 'id="drop-zone"' in page["text"]
  assert '<script src="/static/app.js"></script>' in page["text"]
  assert 'href="/static/style.css"' in page["text"]
  for url, mimetype in [("/static/app.js", "text/javascript"),
                        ("/static/style.css", "text/css"),
                        ("/static/favicon.svg", "image/svg+xml")]:
    assert answers[url]["status"] == 200, url
    assert answers[url]["mimetype"] == mimetype, url
    with open(os.path.join(REPO_ROOT, "colorizer", "web", url[1:]),
              encoding="utf-8") as f:
      assert answers[url]["text"] == f.read(), url
