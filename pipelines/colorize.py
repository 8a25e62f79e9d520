r"""Colorizes photos with an exported SavedModel, each at its full size.

A folder, recursively (outputs mirror its subfolders, as .png):

  colorizer-colorize --model=savedmodels/demo --input=$HOME/old_photos \
      --output_dir=colorized

One file, a specific model version, gray | colorized side by side as well:

  colorizer-colorize --model=savedmodels/demo/3 --input=scan.tif --compare

A glob (quote it), with the network at 512 px instead of its export size:

  colorizer-colorize --model=savedmodels/photos --input='scans/**/*.jpg' \
      --output_dir=out --render_size=512

--model is a version dir or a model dir (its highest version is used); the
first line printed names the export used (version, step, preset, date). Files
that cannot be read are reported on stderr and skipped; the exit status is 1
if any were.
"""

import sys

from absl import app
from absl import flags

_MODEL = flags.DEFINE_string(
    "model", None, "SavedModel version dir (savedmodels/demo/3) or model dir "
    "(savedmodels/demo: the highest version).")
_INPUT = flags.DEFINE_string(
    "input", None, "An image file, a folder (recursive) or a quoted glob "
    "('scans/**/*.tif').")
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", "colorized", "Where the colorized PNGs go; input names and "
    "subfolders are mirrored.")
_RENDER_SIZE = flags.DEFINE_integer(
    "render_size", 0, "Resolution the network runs at, a multiple of 2**U-Net "
    "depth; 0 uses the size fixed at export.")
_COMPARE = flags.DEFINE_boolean(
    "compare", False, "Also write <name>_compare.png: gray | colorized.")
_PROGRESS = flags.DEFINE_boolean(
    "progress", True, "Progress bar with an ETA on stderr.")
flags.mark_flags_as_required(["model", "input"])


def _fail(message: str) -> None:
  sys.exit(f"colorizer-colorize: error: {message}")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  if _RENDER_SIZE.value < 0:
    _fail(f"--render_size={_RENDER_SIZE.value} must be >= 0.")
  if not _OUTPUT_DIR.value:
    _fail("--output_dir must not be empty.")
  # pylint: disable=g-import-not-at-top
  from colorizer.serving import colorize_lib
  from colorizer.serving import export
  from colorizer.serving import input_files
  # pylint: enable=g-import-not-at-top
  try:
    inputs = input_files.find_inputs(_INPUT.value,
                                     exclude_dir=_OUTPUT_DIR.value)
    model = colorize_lib.SavedModelColorizer(
        _MODEL.value, render_size=_RENDER_SIZE.value or None)
  except ValueError as error:
    _fail(str(error))
  print(f"Using {export.describe_export(model.model_dir)}", flush=True)
  summary = colorize_lib.colorize_files(
      model, inputs, _OUTPUT_DIR.value, compare=_COMPARE.value,
      progress=_PROGRESS.value)
  print(summary.describe(_OUTPUT_DIR.value))
  if summary.failed:
    sys.exit(1)


def run():
  app.run(main)


if __name__ == "__main__":
  run()
