"""Tests for colorizer.serving.colorize_lib and the colorizer-colorize binary.

An untrained tiny generator is exported once per module; what is checked is
the plumbing around it: every readable file comes out at its full size,
upright, with its own lightness, under a mirrored name inside output_dir, and
every unreadable one is reported without stopping the others.
"""

import io
import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from colorizer import color
from colorizer import presets
from colorizer.data import image_io
from colorizer.model import networks
from colorizer import progress
from colorizer.serving import colorize_lib
from colorizer.serving import export
from colorizer.serving import input_files
from tests import binaries
from tests import conftest

REPO_ROOT = conftest.REPO_ROOT
# See tests/serving/test_export.py: 8-bit rounding of the output moves L* by < 0.5.
MAX_L_ERROR = 1.0


def _gradient(height: int, width: int) -> np.ndarray:
  """A picture whose top-left corner is dark and bottom-right light."""
  rows, cols = np.mgrid[0:height, 0:width]
  ramp = (rows / max(height - 1, 1) + cols / max(width - 1, 1)) / 2.0
  return np.stack([ramp * 230 + 20, ramp * 180 + 40, ramp * 140 + 10],
                  -1).astype(np.uint8)


def _save(image: Image.Image, path, **options) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  image.save(path, **options)
  return str(path)


def _exif_rotated_jpeg(path) -> str:
  """Stored 40 wide x 24 high, displayed (EXIF orientation 6) 24 x 40."""
  exif = Image.Exif()
  exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display.
  return _save(Image.fromarray(_gradient(24, 40)), path, format="JPEG",
               exif=exif, quality=95)


# Output name (relative to output_dir) -> (displayed height, width).
GOOD_FILES = {
    "plain.png": (37, 1001),
    os.path.join("nested", "deeper", "odd.png"): (45, 77),
    "rotated.png": (40, 24),
    "cmyk.png": (31, 29),
    "gray16.png": (20, 33),
    "palette.png": (26, 18),
    "scan.png": (19, 23),
}
BROKEN_FILES = ("zero.png", "truncated.jpg", "text.png")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  config = presets.tiny()
  base_dir = str(tmp_path_factory.mktemp("savedmodels"))
  return export.export(networks.build_generator(config, seed=5), config,
                       base_dir, "demo")


@pytest.fixture(scope="module")
def model(model_dir):
  return colorize_lib.SavedModelColorizer(model_dir)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
  """A folder of good files in many formats, and broken ones."""
  root = tmp_path_factory.mktemp("photos")
  _save(Image.fromarray(_gradient(37, 1001)), root / "plain.png")
  _save(Image.fromarray(_gradient(45, 77)), root / "nested" / "deeper" /
        "odd.jpeg", quality=90)
  _exif_rotated_jpeg(root / "rotated.jpg")
  _save(Image.fromarray(_gradient(31, 29)).convert("CMYK"), root / "cmyk.jpg")
  _save(Image.fromarray((_gradient(20, 33)[..., 0].astype(np.uint16) * 257)),
        root / "gray16.png")
  _save(Image.fromarray(_gradient(26, 18)).convert(
      "P", palette=Image.Palette.ADAPTIVE), root / "palette.png")
  _save(Image.fromarray(_gradient(19, 23)), root / "scan.tif")
  (root / "zero.png").write_bytes(b"")
  jpeg = io.BytesIO()
  Image.fromarray(_gradient(64, 64)).save(jpeg, format="JPEG")
  (root / "truncated.jpg").write_bytes(jpeg.getvalue()[:300])
  (root / "text.png").write_text("this is not a picture\n")
  (root / "notes.txt").write_text("not an image extension: never listed\n")
  return root


def _source_name(output_name: str) -> str:
  """The input file an output came from, in the photos fixture."""
  sources = {"odd.png": "odd.jpeg", "rotated.png": "rotated.jpg",
             "cmyk.png": "cmyk.jpg", "scan.png": "scan.tif",
             "truncated.png": "truncated.jpg"}
  head, tail = os.path.split(output_name)
  return os.path.join(head, sources.get(tail, tail))


def _l_star(rgb_uint8: np.ndarray) -> np.ndarray:
  return color.rgb_to_lab(color.rgb_uint8_to_float(rgb_uint8))[..., 0].numpy()


def _assert_colorized(output_path: str, input_path: str):
  """Full size, upright, with the input's lightness (as Pillow shows it)."""
  output_rgb = np.asarray(Image.open(output_path))
  input_rgb = image_io.read_rgb(input_path)
  assert output_rgb.shape == input_rgb.shape, output_path
  l_error = np.abs(_l_star(output_rgb) - _l_star(input_rgb))
  assert l_error.max() < MAX_L_ERROR, (output_path, l_error.max())


def test_find_inputs_folder_mirrors_names(photos):
  pairs = input_files.find_inputs(str(photos))
  broken_names = [os.path.splitext(name)[0] + ".png" for name in BROKEN_FILES]
  assert sorted(name for _, name in pairs) == sorted(list(GOOD_FILES) +
                                                     broken_names)
  for path, name in pairs:
    assert os.path.join(str(photos), _source_name(name)) == path


def test_find_inputs_glob_and_single_file(photos):
  pairs = input_files.find_inputs(os.path.join(str(photos), "**", "*.jp*g"))
  assert [name for _, name in pairs] == [
      "cmyk.png", os.path.join("nested", "deeper", "odd.png"), "rotated.png",
      "truncated.png"]
  single = str(photos / "nested" / "deeper" / "odd.jpeg")
  assert input_files.find_inputs(single) == [(single, "odd.png")]


def test_find_inputs_errors_and_exclusion(tmp_path):
  with pytest.raises(ValueError, match="--input=.*no such file"):
    input_files.find_inputs(str(tmp_path / "missing*.png"))
  with pytest.raises(ValueError, match="no image files"):
    input_files.find_inputs(str(tmp_path))
  _save(Image.fromarray(_gradient(4, 4)), tmp_path / "a.jpg")
  _save(Image.fromarray(_gradient(4, 4)), tmp_path / "a.png")
  _save(Image.fromarray(_gradient(4, 4)), tmp_path / "out" / "a.png")
  # Two inputs that both want a.png, and a rerun's output folder inside the
  # input folder, which must not be colorized again.
  pairs = input_files.find_inputs(str(tmp_path),
                                   exclude_dir=str(tmp_path / "out"))
  assert [name for _, name in pairs] == ["a.png", "a_png.png"]


@pytest.mark.parametrize("name, expected", [
    ("a/b.png", os.path.join("a", "b.png")),
    ("../../etc/passwd", os.path.join("etc", "passwd")),
    ("/absolute/x.png", os.path.join("absolute", "x.png")),
    ("C:\\Users\\x.png", os.path.join("Users", "x.png")),
    ("..", "image"),
    ("a/./../b.png", os.path.join("a", "b.png")),
])
def test_sanitize_relative_name(name, expected):
  assert input_files.sanitize_relative_name(name) == expected


def test_error_summary_skips_the_lines_that_locate_a_tf_error():
  error = tf.errors.InvalidArgumentError(
      None, None, "Graph execution error:\n\nDetected at node x defined at "
      "(most recent call last):\n<stack traces unavailable>\n  image is "
      "larger than the limit\n\t [[{{node x}}]] [Op:__inference_f]")
  assert colorize_lib.error_summary(error) == "image is larger than the limit"
  assert colorize_lib.error_summary(ValueError()) == "ValueError"


def test_resolve_model_path(model_dir, tmp_path):
  base = os.path.dirname(model_dir)
  assert colorize_lib.resolve_model_path(model_dir) == model_dir
  assert colorize_lib.resolve_model_path(base) == model_dir
  for version in ("3", "12"):
    (tmp_path / version).mkdir()
    (tmp_path / version / "saved_model.pb").write_bytes(b"")
  (tmp_path / "40").mkdir()  # No saved_model.pb: not a version (yet).
  assert colorize_lib.resolve_model_path(str(tmp_path)) == str(tmp_path / "12")
  with pytest.raises(ValueError, match="--model=.*no such directory"):
    colorize_lib.resolve_model_path(str(tmp_path / "missing"))
  with pytest.raises(ValueError, match="--model=.*not a SavedModel"):
    colorize_lib.resolve_model_path(str(tmp_path / "40"))


def test_colorize_files_library(model, photos, tmp_path):
  output_dir = str(tmp_path / "out")
  inputs = [(str(photos / "rotated.jpg"), "rotated.png"),
            (str(photos / "cmyk.jpg"), "../../escaped.png"),
            (str(photos / "zero.png"), "zero.png")]
  stream = io.StringIO()
  summary = colorize_lib.colorize_files(model, inputs, output_dir,
                                        compare=True, stream=stream)
  assert summary.written == [os.path.join(output_dir, "rotated.png"),
                             os.path.join(output_dir, "escaped.png")]
  assert [path for path, _ in summary.failed] == [str(photos / "zero.png")]
  assert sorted(os.listdir(output_dir)) == [
      "escaped.png", "escaped_compare.png", "rotated.png",
      "rotated_compare.png"]
  _assert_colorized(summary.written[0], str(photos / "rotated.jpg"))
  # Upright: the displayed image's dark corner is top-right (a clockwise
  # turn of the stored top-left corner).
  l_star = _l_star(np.asarray(Image.open(summary.written[0])))
  assert l_star[0, -1] < l_star[0, 0] and l_star[0, -1] < l_star[-1, -1]
  # gray | colorized, the gray half with the same L*.
  side_by_side = np.asarray(Image.open(os.path.join(output_dir,
                                                    "rotated_compare.png")))
  colorized = np.asarray(Image.open(summary.written[0]))
  assert side_by_side.shape == (40, 48, 3)
  gray, right = side_by_side[:, :24], side_by_side[:, 24:]
  np.testing.assert_array_equal(right, colorized)
  assert (gray[..., 0] == gray[..., 1]).all() and (
      gray[..., 1] == gray[..., 2]).all()
  assert np.abs(_l_star(gray) - _l_star(colorized)).max() < 2 * MAX_L_ERROR
  errors = [line for line in stream.getvalue().splitlines()
            if line.startswith("error:")]
  assert errors == [f"error: {photos / 'zero.png'}: UnidentifiedImageError: "
                    "cannot identify image file"]


def test_render_size(model_dir, photos, tmp_path):
  source = str(photos / "nested" / "deeper" / "odd.jpeg")
  summary = colorize_lib.colorize_files(
      model_dir, source, str(tmp_path), render_size=64, progress=False)
  assert not summary.failed
  assert summary.written == [str(tmp_path / "odd.png")]
  _assert_colorized(summary.written[0], source)
  with pytest.raises(ValueError, match="--render_size=48: .*multiple of 32"):
    colorize_lib.SavedModelColorizer(model_dir, render_size=48)


class _Terminal(io.StringIO):

  def isatty(self):
    return True


def test_progress_bar_on_a_terminal_and_in_a_log():
  now = [0.0]
  terminal = _Terminal()
  bar = progress.ProgressBar(4, stream=terminal, clock=lambda: now[0])
  now[0] = 10.0
  bar.advance()
  assert "1/4" in terminal.getvalue() and "ETA 0:30" in terminal.getvalue()
  bar.message("error: x: broken")
  bar.advance(failed=True)
  bar.close()
  text = terminal.getvalue()
  assert "\r" in text and "2/4" in text and "1 failed" in text
  assert "error: x: broken\n" in text and text.endswith("\n")

  log = io.StringIO()
  bar = progress.ProgressBar(100, stream=log, clock=lambda: now[0],
                             interval_s=10.0)
  for _ in range(99):
    now[0] += 0.5
    bar.advance()
  bar.advance()
  lines = log.getvalue().splitlines()
  assert "\r" not in log.getvalue()
  # Every 10 s over 50 s, then the final line.
  assert len(lines) == 5 and lines[-1].startswith("[" + "#" * 24 + "] 100/100")


@pytest.mark.parametrize("seconds, expected", [
    (-3.0, "0:00"), (59.9, "0:59"), (61.0, "1:01"), (3725.0, "1:02:05"),
    (90000.0, "25:00:00")])
def test_format_duration(seconds, expected):
  assert progress.format_duration(seconds) == expected


def _run_binary(*flags_and_values, timeout=300):
  return subprocess.run(
      [sys.executable, "-m", "pipelines.colorize", *flags_and_values],
      capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))


def test_binary_end_to_end(model_dir, photos, tmp_path):
  output_dir = tmp_path / "colorized"
  result = _run_binary(f"--model={os.path.dirname(model_dir)}",
                       f"--input={photos}", f"--output_dir={output_dir}",
                       "--compare")
  assert result.returncode == 1, result.stderr[-3000:]
  assert (f"{len(GOOD_FILES)} colorized, {len(BROKEN_FILES)} failed"
          in result.stdout)
  for name, (height, width) in GOOD_FILES.items():
    output_path = str(output_dir / name)
    _assert_colorized(output_path, str(photos / _source_name(name)))
    assert np.asarray(Image.open(output_path)).shape == (height, width, 3)
    compare_path = output_path[:-4] + "_compare.png"
    assert Image.open(compare_path).size == (2 * width, height)
  errors = [line for line in result.stderr.splitlines()
            if line.startswith("error:")]
  assert len(errors) == len(BROKEN_FILES)
  for name in BROKEN_FILES:
    assert sum(str(photos / name) in line for line in errors) == 1
    assert not (output_dir / (os.path.splitext(name)[0] + ".png")).exists()


def test_binary_bad_flags(model_dir, tmp_path):
  result = binaries.run_main("pipelines.colorize", f"--model={model_dir}",
                             f"--input={tmp_path}", "--render_size=-32")
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1] == (
      "colorizer-colorize: error: --render_size=-32 must be >= 0.")
  result = binaries.run_main("pipelines.colorize", f"--model={model_dir}",
                             f"--input={tmp_path / 'nothing_here.png'}")
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith(
      f"colorizer-colorize: error: --input={tmp_path / 'nothing_here.png'}")


def _decoded(png_bytes: bytes) -> np.ndarray:
  return np.asarray(Image.open(io.BytesIO(png_bytes)).convert("RGB"))


def test_colorize_arrays_takes_a_batch_of_gray_and_rgb_of_any_sizes(model):
  rgb = _gradient(37, 53)
  gray = np.asarray(Image.fromarray(_gradient(20, 31)).convert("L"))
  colorized = model.colorize_arrays([rgb, gray])
  assert [image.shape for image in colorized] == [(37, 53, 3), (20, 31, 3)]
  assert all(image.dtype == np.uint8 for image in colorized)
  # One call for the batch gives what one call per image gives.
  for image, output in zip((rgb, gray), colorized):
    np.testing.assert_array_equal(
        output, _decoded(model.colorize_png(conftest.encoded(image, "PNG"))))
  l_error = np.abs(_l_star(colorized[1]) - _l_star(np.repeat(
      gray[..., None], 3, -1)))
  assert l_error.max() < MAX_L_ERROR
  with pytest.raises(ValueError, match=r"^images\[1\]: expected uint8"):
    model.colorize_arrays([rgb, rgb.astype(np.float32)])
  with pytest.raises(ValueError, match=r"^images\[0\]: .*\[37, 53, 2\]"):
    model.colorize_arrays([rgb[..., :2]])


def test_colorize_image_takes_any_pillow_mode(model):
  rgba = Image.fromarray(_gradient(26, 30)).convert("RGBA")
  rgba.putalpha(Image.fromarray(
      np.where(np.arange(30) < 10, 0, 255).astype(np.uint8)[None].repeat(
          26, 0)))
  colorized = model.colorize_image(rgba)
  assert colorized.mode == "RGB" and colorized.size == (30, 26)
  # The transparent left third is composited on white, as for a file.
  np.testing.assert_array_equal(
      np.asarray(colorized),
      _decoded(model.colorize_png(conftest.encoded(np.asarray(rgba), "PNG"))))
  assert np.asarray(colorized)[:, :10].min() >= 250
  cmyk = Image.fromarray(_gradient(21, 17)).convert("CMYK")
  np.testing.assert_array_equal(
      np.asarray(model.colorize_image(cmyk)),
      model.colorize_arrays([np.asarray(cmyk.convert("RGB"))])[0])
