r"""Colorizes a video with an exported SavedModel, frame by frame.

  colorizer-colorize-video --model=savedmodels/demo --input=home_movie.mp4 \
      --output=home_movie_colorized.mp4 --report_flicker

Every frame is colorized at its full size; its lightness (CIE L*) is kept, so
a color video is decolorized first. The output has the input's frame rate,
size and audio streams (copied; re-encoded to AAC only if the container does
not take them). a*b* is averaged over frames to reduce flicker (--smoothing;
0 turns it off), restarting at scene cuts.

Without --output the result is <input>_colorized.mp4 beside the input. Errors
(an unreadable input, a missing model) are one line on stderr, exit status 1.
"""

import sys

from absl import app
from absl import flags

_MODEL = flags.DEFINE_string(
    "model", None, "SavedModel version dir (savedmodels/demo/3) or model dir "
    "(savedmodels/demo: the highest version).")
_INPUT = flags.DEFINE_string("input", None, "A video file ffmpeg can read.")
_OUTPUT = flags.DEFINE_string(
    "output", "", "The colorized video: .mp4, .mkv, .mov or .m4v; default "
    "<input>_colorized.mp4.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 8, "Frames per model call.")
_SMOOTHING = flags.DEFINE_float(
    "smoothing", 0.6, "Weight of the past in the moving average of a*b*, in "
    "[0, 1); 0 colorizes each frame on its own.")
_SCENE_CUT_THRESHOLD = flags.DEFINE_float(
    "scene_cut_threshold", 8.0, "Mean |L* change| (0..100) between two "
    "frames above which the second starts a new scene (smoothing restarts).")
_MOTION_THRESHOLD = flags.DEFINE_float(
    "motion_threshold", 10.0, "Per-pixel |L* change| at which a pixel counts "
    "as moving and takes its new color unblended; 0 blends all pixels alike.")
_CRF = flags.DEFINE_integer(
    "crf", 18, "H.264 quality: 0 lossless .. 51 worst; 18 looks lossless.")
_REPORT_FLICKER = flags.DEFINE_boolean(
    "report_flicker", False, "Print the flicker (mean a*b* change per frame "
    "on static pixels) of the model's colors and of the output.")
_PROGRESS = flags.DEFINE_boolean(
    "progress", True, "Progress bar with an ETA on stderr.")
flags.mark_flags_as_required(["model", "input"])


def _fail(message: str) -> None:
  sys.exit(f"colorizer-colorize-video: error: {message}")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  from colorizer.serving import video_io  # pylint: disable=g-import-not-at-top
  try:
    # An unreadable input fails here, before TensorFlow takes seconds to load.
    video_io.probe(_INPUT.value)
  except ValueError as error:
    _fail(str(error))
  # pylint: disable=g-import-not-at-top
  from colorizer.serving import colorize_lib
  from colorizer.serving import export
  from colorizer.serving import video
  # pylint: enable=g-import-not-at-top
  try:
    print("Using " + export.describe_export(
        colorize_lib.resolve_model_path(_MODEL.value)), flush=True)
    summary = video.colorize_video(
        _MODEL.value, _INPUT.value, _OUTPUT.value or None,
        batch_size=_BATCH_SIZE.value, smoothing=_SMOOTHING.value,
        scene_cut_threshold=_SCENE_CUT_THRESHOLD.value,
        motion_threshold=_MOTION_THRESHOLD.value, crf=_CRF.value,
        measure_flicker=_REPORT_FLICKER.value, progress=_PROGRESS.value)
  except (ValueError, video_io.VideoError) as error:
    _fail(str(error))
  print(summary.describe())
  if _REPORT_FLICKER.value:
    print(summary.describe_flicker())


def run():
  app.run(main)


if __name__ == "__main__":
  run()
