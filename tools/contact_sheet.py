r"""Stacks colorize's *_compare.png images (gray | colorized) into one sheet.

  colorizer-colorize --model=savedmodels/photos \
      --input=../shared/data/bw_samples --output_dir=out/bw --compare
  python -m tools.contact_sheet --input_dir=out/bw \
      --output=docs/results/photos_bw_samples.png

Each pair is scaled to --row_height pixels high; rows are laid out in
--columns columns, in file-name order.
"""

import glob
import os

from absl import app
from absl import flags
import numpy as np
from PIL import Image

_INPUT_DIR = flags.DEFINE_string(
    "input_dir", None, "Folder of colorizer-colorize --compare outputs.")
_OUTPUT = flags.DEFINE_string("output", None, "The sheet (PNG).")
_ROW_HEIGHT = flags.DEFINE_integer("row_height", 220, "Height of each pair.")
_COLUMNS = flags.DEFINE_integer("columns", 2, "Pairs side by side.")
flags.mark_flags_as_required(["input_dir", "output"])
_GAP = 6


def sheet(paths, row_height: int, columns: int) -> Image.Image:
  """The pairs in paths, scaled to row_height, in columns on white."""
  if row_height < 16 or columns < 1:
    raise ValueError("--row_height must be >= 16 and --columns >= 1.")
  pairs = []
  for path in paths:
    with Image.open(path) as image:
      width = max(1, round(image.width * row_height / image.height))
      pairs.append(image.convert("RGB").resize(
          (width, row_height), Image.Resampling.LANCZOS))
  if not pairs:
    raise ValueError("no *_compare.png images found.")
  rows = [pairs[i:i + columns] for i in range(0, len(pairs), columns)]
  column_widths = [max(row[c].width for row in rows if c < len(row))
                   for c in range(columns)]
  canvas = Image.new("RGB", (sum(column_widths) + _GAP * (columns + 1),
                             len(rows) * (row_height + _GAP) + _GAP),
                     (255, 255, 255))
  for r, row in enumerate(rows):
    x = _GAP
    for c, pair in enumerate(row):
      canvas.paste(pair, (x, _GAP + r * (row_height + _GAP)))
      x += column_widths[c] + _GAP
  return canvas


def main(argv):
  del argv
  paths = sorted(glob.glob(os.path.join(_INPUT_DIR.value, "**",
                                        "*_compare.png"), recursive=True))
  try:
    image = sheet(paths, _ROW_HEIGHT.value, _COLUMNS.value)
  except ValueError as error:
    raise app.UsageError(str(error)) from None
  image.save(_OUTPUT.value, optimize=True)
  print(f"{len(paths)} pairs -> {_OUTPUT.value} {image.size} "
        f"({np.asarray(image).nbytes / 2**20:.1f} MiB raw)")


if __name__ == "__main__":
  app.run(main)
