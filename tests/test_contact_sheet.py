"""tools.contact_sheet: colorize --compare pairs stacked into one picture."""

import numpy as np
from PIL import Image
import pytest

from tools import contact_sheet


def _pair(path, width, height, value):
  Image.fromarray(np.full((height, width, 3), value, np.uint8)).save(path)
  return str(path)


def test_sheet_scales_pairs_to_one_height_in_columns(tmp_path):
  paths = [_pair(tmp_path / f"{i}_compare.png", 200, 100, 40 * i)
           for i in range(3)]
  image = contact_sheet.sheet(paths, row_height=50, columns=2)
  gap = contact_sheet._GAP  # pylint: disable=protected-access
  # Two rows of 100 x 50 pairs, two columns, white gaps around them.
  assert image.size == (2 * 100 + 3 * gap, 2 * 50 + 3 * gap)
  pixels = np.asarray(image)
  assert (pixels[gap + 10, gap + 10] == 0).all()          # first pair
  assert (pixels[gap + 10, 2 * gap + 110] == 40).all()    # second, right
  assert (pixels[2 * gap + 60, gap + 10] == 80).all()     # third, next row
  assert (pixels[0, 0] == 255).all()


def test_sheet_refuses_nothing_to_show():
  with pytest.raises(ValueError, match="no \\*_compare.png"):
    contact_sheet.sheet([], row_height=50, columns=2)
