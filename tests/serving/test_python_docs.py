"""docs/python.md's code runs, block after block, against a tiny export.

The page's python blocks are executed in order in one namespace, in a
temporary directory holding what they name: a tiny untrained export in place
of savedmodels/photos, and generated photos for old_photo.jpg and the scans.
"""

import os
import re

import numpy as np
from PIL import Image
import pytest

from colorizer import presets
from colorizer.model import networks
from colorizer.serving import export
from tests import conftest

PAGE = os.path.join(conftest.REPO_ROOT, "docs", "python.md")
SHIPPED_MODEL = "savedmodels/photos"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def _python_blocks():
  with open(PAGE, encoding="utf-8") as f:
    return _PYTHON_BLOCK.findall(f.read())


@pytest.fixture
def workdir(tmp_path, monkeypatch):
  """A directory with a tiny export at version 2, as the shipped model's."""
  config = presets.tiny()
  export.export(networks.build_generator(config, seed=0), config,
                str(tmp_path / "models"), "tiny", version=2)
  monkeypatch.chdir(tmp_path)
  Image.fromarray(conftest.random_photo(45, 70, seed=1)).save("old_photo.jpg")
  for index in (1, 2):
    Image.fromarray(conftest.random_photo(30 + index, 41, seed=index)).save(
        f"scan_{index}.png")
  return tmp_path


def test_the_page_shows_loading_a_photo_a_batch_and_the_render_size():
  code = "\n".join(_python_blocks())
  for call in ("SavedModelColorizer(", "colorize_image(", "colorize_arrays(",
               "render_size=", "signatures[\"serving_default\"]"):
    assert call in code, call


def test_every_python_block_runs(workdir, capsys):
  namespace = {}
  for block in _python_blocks():
    assert SHIPPED_MODEL in block or "savedmodels" not in block
    code = block.replace(SHIPPED_MODEL, str(workdir / "models" / "tiny"))
    exec(compile(code, PAGE, "exec"), namespace)  # pylint: disable=exec-used
  # What the blocks made: a colorized photo, arrays and the render size.
  photo = Image.open(workdir / "old_photo_colorized.png")
  assert photo.size == (70, 45) and photo.mode == "RGB"
  frames = namespace["colorized_frames"]
  assert [frame.shape for frame in frames] == [(31, 41, 3), (32, 41, 3)]
  assert all(frame.dtype == np.uint8 for frame in frames)
  assert namespace["larger"].render_size == 128
  assert namespace["colorized"].size == (70, 45)
  printed = capsys.readouterr().out.splitlines()
  assert printed[0] == "32"  # The tiny export's render size.
