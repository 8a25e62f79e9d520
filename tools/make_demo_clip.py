r"""Writes the demo clip that docs/video.md colorizes.

Run from the repository root:

  python -m tools.make_demo_clip --output=/tmp/video_demo/clip.mp4 \
      --tiny_model_dir=/tmp/video_demo/models

The clip: demo scene 2 panned slowly (1 px per frame), a cut to demo scene 5
held still, a 440 Hz tone as audio, 23.976 fps (24000/1001). With
--tiny_model_dir an untrained tiny model is exported there too (as
<dir>/tiny/1), its output layer scaled up as in tests/test_export.py so that
its colors are vivid and unstable: a flicker stress test, not a colorizer.
"""

import fractions
import os

from absl import app
from absl import flags

from colorizer import presets
from colorizer.model import networks
from colorizer.serving import export
from colorizer.serving import video
from colorizer.serving import video_io

_OUTPUT = flags.DEFINE_string("output", "demo_clip.mp4", "The clip to write.")
_NUM_FRAMES = flags.DEFINE_integer("num_frames", 48, "Clip length.")
_WIDTH = flags.DEFINE_integer("width", 128, "Frame width in pixels.")
_HEIGHT = flags.DEFINE_integer("height", 96, "Frame height in pixels.")
_TINY_MODEL_DIR = flags.DEFINE_string(
    "tiny_model_dir", None, "Also export an untrained tiny model here.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  frames = video.demo_clip_frames(_NUM_FRAMES.value, _WIDTH.value,
                                  _HEIGHT.value)
  os.makedirs(os.path.dirname(os.path.abspath(_OUTPUT.value)), exist_ok=True)
  with video_io.FrameWriter(_OUTPUT.value, _WIDTH.value, _HEIGHT.value,
                            fractions.Fraction(24000, 1001),
                            tone_hz=440) as writer:
    writer.write(frames)
  print(f"wrote {_OUTPUT.value}: {len(frames)} frames")
  if _TINY_MODEL_DIR.value:
    config = presets.tiny()
    generator = networks.build_generator(config, seed=3)
    layer = generator.get_layer("ab_deconv")
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel * 100.0, bias])
    print("exported", export.export(generator, config, _TINY_MODEL_DIR.value,
                                    "tiny"))


if __name__ == "__main__":
  app.run(main)
