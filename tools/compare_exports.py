r"""How far apart two exports' colorized photos are (e.g. float16 weights).

  colorizer-export --model_dir=runs/photos --base_dir=/tmp/f32 --name=photos
  colorizer-export --model_dir=runs/photos --base_dir=/tmp/f16 --name=photos \
      --weights_dtype=float16
  python -m tools.compare_exports --models=/tmp/f32/photos,/tmp/f16/photos \
      --images='photos/*/*.jpg' --num_images=13

Each photo goes through both exports' serving_default; the tool prints, over
the photos, the largest difference of one RGB value (levels of 255) and the
PSNR of one output against the other (the smallest and the mean).
"""

import glob

from absl import app
from absl import flags
import numpy as np
from PIL import Image

_MODELS = flags.DEFINE_list("models", None, "Two exports (version or model "
                            "base dirs).")
_IMAGES = flags.DEFINE_string("images", None, "Glob of the photos.")
_NUM_IMAGES = flags.DEFINE_integer(
    "num_images", 13, "Photos to use, spread over the sorted glob; 0: all.")
flags.mark_flags_as_required(["models", "images"])


def spread(paths, count: int):
  """count items spread evenly over paths (all of them for 0)."""
  if not count or count >= len(paths):
    return list(paths)
  return [paths[int(i)] for i in np.linspace(0, len(paths) - 1, count)]


def compare(outputs_a, outputs_b):
  """Largest difference of one value and per-pair PSNRs, in dB."""
  from colorizer.evaluation import metrics  # pylint: disable=g-import-not-at-top
  largest, psnrs = 0, []
  for rgb_a, rgb_b in zip(outputs_a, outputs_b):
    rgb_a, rgb_b = rgb_a.astype(np.int64), rgb_b.astype(np.int64)
    largest = max(largest, int(np.abs(rgb_a - rgb_b).max()))
    psnrs.append(float(metrics.psnr(rgb_a[None], rgb_b[None], 255)[0]))
  return largest, psnrs


def _colorize(colorizer, path: str) -> np.ndarray:
  with Image.open(path) as image:
    return np.asarray(colorizer.colorize_image(image))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  if len(_MODELS.value) != 2:
    raise app.UsageError("--models takes exactly two exports.")
  paths = spread(sorted(glob.glob(_IMAGES.value)), _NUM_IMAGES.value)
  if not paths:
    raise app.UsageError(f"--images={_IMAGES.value} matches no file.")
  from colorizer.serving import colorize_lib  # pylint: disable=g-import-not-at-top
  outputs = []
  for model in _MODELS.value:
    colorizer = colorize_lib.SavedModelColorizer(model)
    outputs.append([_colorize(colorizer, path) for path in paths])
  largest, psnrs = compare(*outputs)
  print(f"{len(paths)} photos: largest difference {largest} of 255; "
        f"PSNR between the exports {min(psnrs):.1f} dB at the least, "
        f"{np.mean(psnrs):.1f} dB on average.")


if __name__ == "__main__":
  app.run(main)
