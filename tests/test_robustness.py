"""Bad inputs at every entry point: each is refused alone, the rest goes on.

The inputs come from tests/bad_inputs.py (generated, none committed): odd but
readable images (1x1, 2x1000, 16-bit, CMYK, palette with transparency,
animated GIF, EXIF-rotated JPEG, gray + alpha, non-ASCII names with spaces)
must be used everywhere; unusable files (empty, truncated, random bytes, text,
a TIFF that makes Pillow raise TypeError, a PNG header declaring 100000 x
100000 pixels) must be refused one by one:
by colorizer.data.image_io, the folder pipeline and a training run, the colorize
library and binary, and the exported serving signature. One untrained tiny
model is exported per module.
"""

import io
import logging
import os
import resource
import subprocess
import sys

import numpy as np
from PIL import Image
from PIL import ImageFile
import pytest
import tensorflow as tf

from colorizer import color
from colorizer import presets
from colorizer.data import image_header
from colorizer.data import image_io
from colorizer.data import image_sources
from colorizer.data import pipeline
from colorizer.model import networks
from colorizer.serving import colorize_lib
from colorizer.serving import export
from colorizer.serving import full_resolution
from colorizer.training import train
from tests import bad_inputs

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALL_CASES = bad_inputs.GOOD_CASES + bad_inputs.BAD_CASES
GOOD_NAMES = sorted(case.name for case in bad_inputs.GOOD_CASES)
BAD_NAMES = sorted(case.name for case in bad_inputs.BAD_CASES)
# Pillow (libjpeg-turbo) and TensorFlow (libjpeg, fast DCT) decode the same
# JPEG up to 5 levels apart; PNG, GIF and 16-bit PNG agree to rounding.
DECODER_ATOL = 6
# A header bomb must be refused without allocating its pixels: far less than
# this much new peak memory (the smallest bomb here declares 144 MP).
BOMB_MEMORY_MB = 100


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("bad inputs é"))
  bad_inputs.write_cases(root, ALL_CASES)
  return root


@pytest.fixture(scope="module")
def version_dir(tmp_path_factory):
  config = presets.tiny()
  return export.export(networks.build_generator(config), config,
                       str(tmp_path_factory.mktemp("savedmodels")), "tiny")


@pytest.fixture(scope="module")
def serve(version_dir):
  signature = tf.saved_model.load(version_dir).signatures[
      export.SERVING_SIGNATURE]

  def run(*image_bytes):
    outputs = signature(**{export.INPUT_BYTES: tf.constant(list(image_bytes))})
    return [np.asarray(Image.open(io.BytesIO(png)))
            for png in outputs[export.OUTPUT_BYTES].numpy()]

  return run


def _relative(paths, root):
  return sorted(os.path.relpath(path, root) for path in paths)


def _peak_rss_mb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def test_generated_bombs_are_small_and_declare_what_they_say():
  for name, (make, declared) in bad_inputs.HEADER_BOMBS.items():
    image_bytes = make()
    assert len(image_bytes) < 1000, name
    size = image_header.declared_size(tf.constant(image_bytes))
    assert tuple(size.numpy()) == declared, name


@pytest.mark.parametrize("name", sorted(bad_inputs.small_seed_images()))
def test_declared_size_of_real_images_eagerly_and_in_tf_data(name):
  image_bytes = bad_inputs.small_seed_images()[name]
  # TIFF is not a serving format: its size is unknown, (-1, -1).
  expected = ((-1, -1) if name == "tiff" else
              image_io.read_rgb(image_bytes).shape[:2])
  eager = image_header.declared_size(tf.constant(image_bytes))
  in_data = next(iter(tf.data.Dataset.from_tensors(image_bytes).map(
      image_header.declared_size)))
  assert tuple(eager.numpy()) == tuple(in_data.numpy()) == expected


# colorizer.data.image_io, used by the folder pipeline, colorize and the web page.


def test_read_rgb_reads_every_good_case():
  for case in bad_inputs.GOOD_CASES:
    rgb_uint8 = image_io.read_rgb(case.make())
    assert rgb_uint8.shape == (*case.shown_size, 3), case.name
    assert rgb_uint8.dtype == np.uint8
  # Stored dark at the left; shown rotated clockwise, dark at the top.
  rotated = image_io.read_rgb(bad_inputs.exif_rotated_jpeg()).astype(float)
  assert rotated[:3, :, 0].mean() + 100 < rotated[-3:, :, 0].mean()
  # 16-bit values are scaled into 8 bits, not clipped at 255.
  for name in ("gray16.png", "rgb16.png"):
    case = next(case for case in bad_inputs.GOOD_CASES if case.name == name)
    rgb_uint8 = image_io.read_rgb(case.make())
    assert rgb_uint8.min() < 60 and rgb_uint8.max() > 200, name
  # Transparency is put on white; an animation gives its first (red) frame.
  cases = {case.name: case for case in bad_inputs.GOOD_CASES}
  palette = image_io.read_rgb(cases["palette transparent.png"].make())
  assert (palette[:5, :5] == 255).all()
  gray_alpha = image_io.read_rgb(cases["gray alpha.png"].make())
  assert (gray_alpha[:, :9] == 255).all() and gray_alpha[:, 9:].min() < 255
  first_frame = image_io.read_rgb(cases["animated.gif"].make())
  np.testing.assert_array_equal(first_frame.mean(axis=(0, 1)), [200, 30, 30])


def test_read_rgb_refuses_every_bad_case_by_path(folder):
  for case in bad_inputs.BAD_CASES:
    path = os.path.join(folder, case.name)
    with pytest.raises(image_io.ImageReadError) as error:
      image_io.read_rgb(path)
    assert str(error.value).startswith(path + ": "), case.name


def test_read_rgb_refuses_bombs_from_the_header(monkeypatch):
  def no_decoding(self):
    raise AssertionError("a header bomb reached the decoder")

  monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
  # 10 GP: Pillow's own header check refuses it while opening.
  with pytest.raises(image_io.ImageReadError, match="exceeds limit"):
    image_io.read_rgb(bad_inputs.png_bomb())
  # 144 MP: under Pillow's limit, over ours; refused from image.size.
  with pytest.raises(image_io.ImageReadError,
                     match="12000x12000 is over the 64000000-pixel limit"):
    image_io.read_rgb(bad_inputs.png_bomb(12_000, 12_000))
  for name, (make, _) in bad_inputs.HEADER_BOMBS.items():
    with pytest.raises(image_io.ImageReadError):
      image_io.read_rgb(make(), max_pixels=10_000)


def test_read_rgb_refuses_formats_outside_the_list():
  image = Image.fromarray(bad_inputs.photo(8, 8))
  for image_format in ("PPM", "ICO", "TGA"):  # Pillow reads them; we do not.
    with pytest.raises(image_io.ImageReadError,
                       match="UnidentifiedImageError"):
      image_io.read_rgb(bad_inputs.encode(image, image_format))


# The training pipeline and a training run.


def test_folder_pipeline_uses_the_good_and_counts_exactly_the_bad(tiny_config,
                                                                  folder):
  config = tiny_config.data.__class__(
      dataset=f"folder:{folder}", image_size=32, val_fraction=0.0)
  sources = image_sources.make_sources(config, seed=0)
  shapes = sorted(tuple(image.shape[:2]) for image in sources.train)
  assert shapes == sorted(case.shown_size for case in bad_inputs.GOOD_CASES)
  assert _relative(dict(sources.skipped.items()), folder) == BAD_NAMES
  for path, reason in sources.skipped.items():
    assert "\n" not in reason and reason.startswith(path), reason


@pytest.mark.parametrize("train_crop", ["resize", "random_resized"])
def test_batches_from_1x1_and_2x1000_images(tiny_config, tmp_path, train_crop):
  thin = [case for case in bad_inputs.GOOD_CASES if min(case.shown_size) < 3]
  bad_inputs.write_cases(str(tmp_path), thin + list(bad_inputs.BAD_CASES))
  config = tiny_config.data.__class__(
      dataset=f"folder:{tmp_path}", image_size=32, val_fraction=0.3,
      train_crop=train_crop, shuffle_buffer=4)
  train_ds, val_ds, _ = pipeline.make_datasets(config, per_replica_batch=2,
                                           seed=0)
  for l_channel, ab in list(train_ds.take(3)) + list(val_ds):
    assert l_channel.shape[1:] == (32, 32, 1) and ab.shape[1:] == (32, 32, 2)
    assert np.isfinite(l_channel.numpy()).all()
    assert np.isfinite(ab.numpy()).all()


class _Records(logging.Handler):

  def __init__(self):
    super().__init__(logging.INFO)
    self.messages = []

  def emit(self, record):
    self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def training_run(folder, tmp_path_factory):
  """A 2-step tiny run on the folder: its result and its log lines."""
  config = presets.tiny().replace(
      data={"dataset": f"folder:{folder}", "val_fraction": 0.25},
      train={"train_steps": 2, "log_every": 1, "save_every": 2,
             "eval_every": 2})
  records = _Records()
  logger = logging.getLogger("absl")
  logger.addHandler(records)
  try:
    result = train.train_and_evaluate(
        config, str(tmp_path_factory.mktemp("run")))
  finally:
    logger.removeHandler(records)
  return result, records.messages


def _final_summary(messages):
  summaries = [m for m in messages if "unreadable file(s) were skipped" in m]
  assert len(summaries) == 1, summaries
  return summaries[0].splitlines()[1:]


def test_training_run_skips_the_bad_files_and_finishes(training_run, folder):
  result, messages = training_run
  assert result["step"] == 2 and np.isfinite(result["psnr"])
  warned = [m for m in messages if m.startswith("Skipping unreadable image")]
  for name in BAD_NAMES:
    assert any(os.path.join(folder, name) in m for m in warned), name
  for name in GOOD_NAMES:
    assert not any(os.path.join(folder, name) in m for m in warned), name
  listed = [line.strip() for line in _final_summary(messages)]
  assert listed and all(any(line.startswith(os.path.join(folder, name))
                            for name in BAD_NAMES) for line in listed)


def test_training_run_final_summary_lists_exactly_the_bad_files(
    training_run, folder):
  _, messages = training_run
  listed = {name for name in BAD_NAMES for line in _final_summary(messages)
            if line.strip().startswith(os.path.join(folder, name) + ":")}
  assert sorted(listed) == BAD_NAMES


# The colorize binary (and so colorize_lib).


def test_colorize_binary_on_the_bad_folder(folder, version_dir, tmp_path):
  output_dir = tmp_path / "colorisé"
  result = subprocess.run(
      [sys.executable, "-m", "pipelines.colorize", f"--model={version_dir}",
       f"--input={folder}", f"--output_dir={output_dir}", "--noprogress"],
      capture_output=True, text=True, encoding="utf-8", timeout=300,
      cwd=REPO_ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert result.returncode == 1, result.stderr[-3000:]
  assert (f"{len(GOOD_NAMES)} colorized, {len(BAD_NAMES)} failed" in
          result.stdout)
  errors = [line for line in result.stderr.splitlines()
            if line.startswith("error: ")]
  assert len(errors) == len(BAD_NAMES), result.stderr[-3000:]
  for name in BAD_NAMES:
    assert sum(os.path.join(folder, name) + ": " in line
               for line in errors) == 1, name
  bomb = os.path.join(folder, "bomb 100000x100000.png")
  assert any(line.startswith(f"error: {bomb}: ") and "limit" in line
             for line in errors), errors
  # Every good file, non-ASCII names included, at its upright size.
  for case in bad_inputs.GOOD_CASES:
    output = output_dir / (os.path.splitext(case.name)[0] + ".png")
    assert np.asarray(Image.open(output)).shape == (*case.shown_size, 3)
  written = [os.path.relpath(os.path.join(root, name), output_dir)
             for root, _, names in os.walk(output_dir) for name in names]
  assert len(written) == len(GOOD_NAMES), written


# The serving signature of the exported model.


def test_serving_colorizes_every_good_case_at_its_stored_size(serve):
  outputs = serve(*(case.make() for case in bad_inputs.GOOD_CASES))
  for case, output in zip(bad_inputs.GOOD_CASES, outputs):
    assert output.shape == (*case.stored_size, 3), case.name
  # The first frame of the animation, red, sets the output's lightness.
  cases = {case.name: case for case in bad_inputs.GOOD_CASES}
  output = serve(cases["animated.gif"].make())[0]
  red = np.array([[[200, 30, 30]]], np.uint8)
  l_output = color.rgb_to_lab(color.rgb_uint8_to_float(output))[..., 0]
  l_red = color.rgb_to_lab(color.rgb_uint8_to_float(red))[..., 0]
  np.testing.assert_allclose(l_output.numpy().mean(), l_red.numpy().mean(),
                             atol=1.0)


def test_in_graph_decode_agrees_with_read_rgb():
  for case in bad_inputs.GOOD_CASES:
    image_bytes = case.make()
    decoded = full_resolution.decode_rgb_uint8(tf.constant(image_bytes)).numpy()
    shown = image_io.read_rgb(image_bytes)
    if case.shown_size != case.stored_size:  # EXIF: the graph keeps storage.
      shown = np.rot90(shown, k=1)
    np.testing.assert_allclose(decoded, shown, atol=DECODER_ATOL,
                               err_msg=case.name)


def test_serving_refuses_each_bad_case_with_invalid_argument(serve):
  for case in bad_inputs.BAD_CASES:
    with pytest.raises(tf.errors.InvalidArgumentError):
      serve(case.make())
  # A bad image in a batch fails the request, not the server: the next
  # request is served.
  with pytest.raises(tf.errors.InvalidArgumentError):
    serve(bad_inputs.GOOD_CASES[0].make(), b"not an image")
  assert serve(bad_inputs.GOOD_CASES[0].make())[0].shape == (1, 1, 3)


@pytest.mark.parametrize("name", sorted(bad_inputs.HEADER_BOMBS))
def test_serving_refuses_header_bombs_before_decoding(serve, name):
  make, (height, width) = bad_inputs.HEADER_BOMBS[name]
  peak_before = _peak_rss_mb()
  with pytest.raises(tf.errors.InvalidArgumentError) as error:
    serve(make())
  message = colorize_lib.error_summary(error.value)
  assert (f"{full_resolution.DEFAULT_MAX_PIXELS}-pixel limit in its header; "
          "refused before decoding" in message), message
  assert f"[{height}] [{width}]" in message, message
  assert _peak_rss_mb() - peak_before < BOMB_MEMORY_MB


def test_serving_refuses_formats_whose_size_it_cannot_check(serve):
  # tf.io.decode_image would decode a JPEG XL (here its codestream
  # signature) and a WebP without a chunk header, but their sizes are not
  # read before decoding, so they are refused.
  webp = bad_inputs.webp_without_chunk_header()
  decoded = tf.io.decode_image(webp, expand_animations=False)
  assert decoded.shape == (16, 20, 3)
  for image_bytes in (b"\xff\x0a" + bytes(100), webp, b"",
                      b"RIFF\x00\x00\x00\x00"):
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="is not a PNG, JPEG, GIF, BMP or WebP image"):
      serve(image_bytes)


def test_gif_frame_larger_than_its_screen_is_caught_after_decoding():
  # Known gap (docs/security.md): TensorFlow's GIF decoder reads every frame
  # before it checks anything, and the header check reads only the logical
  # screen. The decoded-size check still refuses the image.
  frame = Image.new("P", (600, 500), 0)
  gif = bytearray(bad_inputs.encode(frame, "GIF"))
  gif[6:10] = (16).to_bytes(2, "little") * 2  # A 16 x 16 logical screen.
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="larger than the 100000-pixel limit"):
    full_resolution.decode_rgb_uint8(tf.constant(bytes(gif)),
                                     max_pixels=100_000)


def test_a_malformed_exif_block_does_not_lose_the_photo():
  """Real scans carry broken EXIF (a bad TIFF header in APP1): keep pixels."""
  import io  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  buffer = io.BytesIO()
  Image.fromarray(np.full([30, 40], 128, np.uint8)).save(buffer, "JPEG")
  jpeg = buffer.getvalue()
  payload = b"Exif\x00\x00" + b"\xff\xff\xbeZ\x17#\xff\xff" + b"\x00" * 16
  app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
  rgb_uint8 = image_io.read_rgb(jpeg[:2] + app1 + jpeg[2:])
  assert rgb_uint8.shape == (30, 40, 3)
  assert abs(int(rgb_uint8.mean()) - 128) <= 2
