"""Colorizes image files through an exported SavedModel.

The SavedModel, not the training checkpoint, is what users run: it is the
artifact TF Serving serves, so the files written here are what a server would
return. Each input is read with Pillow (colorizer.data.image_io: EXIF orientation,
16-bit, CMYK, palette, alpha, TIFF, ...), re-encoded losslessly as PNG and
sent through the serving signature, whose graph colorizes at full resolution.

Which files are read and the names their outputs take:
colorizer.serving.input_files.
"""

import dataclasses
import io
import os
import re
import sys
import time
from typing import Any, List, Optional, Sequence, TextIO, Tuple, Union

import numpy as np
from PIL import Image
import tensorflow as tf

from colorizer.data import image_io
from colorizer import progress as progress_lib
from colorizer.serving import export
from colorizer.serving import input_files

# Pillow modes a PNG stores as they are, which the serving graph decodes
# (gray, palette, RGB, alpha, 16-bit gray); others are converted first.
_PNG_MODES = ("L", "LA", "P", "RGB", "RGBA", "I;16")


@dataclasses.dataclass
class ColorizeSummary:
  """What colorize_files did.

  Attributes:
    written: the colorized PNG paths, in input order.
    failed: (input path, reason) for each input that was not colorized.
    seconds: wall time.
  """
  written: List[str] = dataclasses.field(default_factory=list)
  failed: List[Tuple[str, str]] = dataclasses.field(default_factory=list)
  seconds: float = 0.0

  def describe(self, output_dir: str) -> str:
    return (f"{len(self.written)} colorized, {len(self.failed)} failed in "
            f"{self.seconds:.1f}s; outputs in {output_dir}")


def resolve_model_path(model_path: str) -> str:
  """A SavedModel version dir, given it or its model base dir.

  Args:
    model_path: e.g. savedmodels/demo/3, or savedmodels/demo for its highest
      integer version, as TF Serving would pick.

  Returns:
    The version dir.

  Raises:
    ValueError: if neither it nor a version below it holds a saved_model.pb.
  """
  if tf.io.gfile.exists(os.path.join(model_path, "saved_model.pb")):
    return model_path
  if not tf.io.gfile.isdir(model_path):
    raise ValueError(f"--model={model_path}: no such directory.")
  versions = [int(name.strip("/")) for name in tf.io.gfile.listdir(model_path)
              if name.strip("/").isdigit() and tf.io.gfile.exists(
                  os.path.join(model_path, name.strip("/"), "saved_model.pb"))]
  if not versions:
    raise ValueError(
        f"--model={model_path}: not a SavedModel nor a model dir with integer "
        "version subdirectories; export one with colorizer-export.")
  return os.path.join(model_path, str(max(versions)))


def load_export(model_path: str) -> Tuple[str, Any, dict]:
  """Loads an exported SavedModel with tf.saved_model.load.

  Args:
    model_path: a version dir or a model base dir (see resolve_model_path).

  Returns:
    (version_dir, loaded, metadata): the resolved version dir, the loaded
    object (its .signatures) and export.read_metadata's dict.

  Raises:
    ValueError: for a missing model or one that does not load.
  """
  version_dir = resolve_model_path(model_path)
  try:
    loaded = tf.saved_model.load(version_dir)
  except (OSError, tf.errors.OpError) as error:
    raise ValueError(f"--model={model_path}: cannot load {version_dir}: "
                     f"{_reason(error, version_dir)}") from error
  return version_dir, loaded, export.read_metadata(version_dir)


class SavedModelColorizer:
  """An exported colorizer loaded with tf.saved_model.load.

  Calls serving_default, or serving_render_size when a render size is given:
  the same full-resolution graph TF Serving runs.
  """

  def __init__(self, model_path: str, render_size: Optional[int] = None):
    """Loads the model.

    Args:
      model_path: a version dir or a model base dir (see resolve_model_path).
      render_size: the network's resolution; None uses the one baked in at
        export.

    Raises:
      ValueError: for a missing model, or a render size the model refuses.
    """
    self.model_dir, self._loaded, self.metadata = load_export(model_path)
    self.render_size = render_size
    if render_size is None:
      self._signature = self._loaded.signatures[export.SERVING_SIGNATURE]
      return
    self._check_render_size(render_size)
    self._signature = self._loaded.signatures[export.RENDER_SIZE_SIGNATURE]

  def _check_render_size(self, render_size: int) -> None:
    if export.RENDER_SIZE_SIGNATURE not in self._loaded.signatures:
      raise ValueError(
          f"--render_size: {self.model_dir} has no "
          f"{export.RENDER_SIZE_SIGNATURE} signature; re-export it with this "
          "version of colorizer-export, or drop --render_size.")
    multiple = self.metadata.get("render_multiple", 1)
    largest = self.metadata.get("max_render_size",
                                export.DEFAULT_MAX_RENDER_SIZE)
    if render_size <= 0 or render_size % multiple or render_size > largest:
      raise ValueError(
          f"--render_size={render_size}: this model needs a positive multiple "
          f"of {multiple} (2**U-Net depth), at most {largest}; it was "
          f"exported at {self.metadata.get('render_size', '?')}.")

  def _colorize_encoded(self, encoded_images: Sequence[bytes]) -> List[bytes]:
    """One call of the signature: encoded images in, colorized PNGs out."""
    inputs = {export.INPUT_BYTES: tf.constant(list(encoded_images),
                                              tf.string)}
    if self.render_size is not None:
      inputs[export.INPUT_RENDER_SIZE] = tf.constant(self.render_size,
                                                     tf.int32)
    return list(self._signature(**inputs)[export.OUTPUT_BYTES].numpy())

  def colorize_png(self, png_bytes: bytes) -> bytes:
    """Encoded image in, colorized PNG of the same size out.

    Raises:
      tf.errors.InvalidArgumentError: if the model refuses the image.
    """
    return self._colorize_encoded([png_bytes])[0]

  def colorize_arrays(self, images: Sequence[np.ndarray]) -> List[np.ndarray]:
    """Colorizes images held in memory, all in one call of the model.

    Args:
      images: uint8 arrays, [H, W] gray or [H, W, 3] RGB; sizes may differ.
        An RGB image's own colors are discarded: only its L* is used.

    Returns:
      uint8 [H, W, 3] RGB arrays, each the size of its input.

    Raises:
      ValueError: for an array of another dtype or shape.
      tf.errors.InvalidArgumentError: if the model refuses an image.
    """
    encoded_images = []
    for index, image in enumerate(images):
      image = np.asarray(image)
      if image.dtype != np.uint8 or not (
          image.ndim == 2 or (image.ndim == 3 and image.shape[-1] == 3)):
        raise ValueError(f"images[{index}]: expected uint8 [H, W] or "
                         f"[H, W, 3], got {image.dtype} {list(image.shape)}.")
      encoded_images.append(_png_bytes(image, 0))
    return [np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
            for png in self._colorize_encoded(encoded_images)]

  def colorize_image(self, image: Image.Image) -> Image.Image:
    """Colorizes a Pillow image, as serving_default colorizes a file.

    Args:
      image: any mode; transparent areas are composited on white. EXIF
        orientation is not applied (ImageOps.exif_transpose does that).

    Returns:
      An RGB image of the same size.

    Raises:
      tf.errors.InvalidArgumentError: if the model refuses the image.
    """
    if image.mode not in _PNG_MODES:
      image = image.convert("RGBA" if "A" in image.mode else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=0)
    return Image.open(io.BytesIO(self.colorize_png(
        buffer.getvalue()))).convert("RGB")


def _png_bytes(rgb_uint8: np.ndarray, compress_level: int) -> bytes:
  buffer = io.BytesIO()
  Image.fromarray(rgb_uint8).save(buffer, format="PNG",
                                  compress_level=compress_level)
  return buffer.getvalue()


def gray_with_same_lightness(rgb_uint8: np.ndarray) -> np.ndarray:
  """The gray image the model sees: each pixel's L*, a* = b* = 0.

  With a* = b* = 0 the XYZ of a color is the white point scaled by its
  luminance Y, so its linear R = G = B = Y: no Lab round trip is needed.

  Args:
    rgb_uint8: uint8 [H, W, 3] sRGB.

  Returns:
    uint8 [H, W, 3].
  """
  rgb = rgb_uint8.astype(np.float64) / 255.0
  linear = np.where(rgb <= 0.04045, rgb / 12.92,
                    ((rgb + 0.055) / 1.055) ** 2.4)
  luminance = linear @ np.array([0.212671, 0.715160, 0.072169])  # [H, W]
  gray = np.where(luminance <= 0.0031308, 12.92 * luminance,
                  1.055 * np.power(luminance, 1 / 2.4) - 0.055)
  gray_uint8 = np.clip(np.round(gray * 255.0), 0, 255).astype(np.uint8)
  return np.repeat(gray_uint8[..., None], 3, axis=-1)


def _write_atomically(path: str, data: bytes) -> None:
  """Writes beside the target and renames, so no half-written PNG is left."""
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  temp_path = os.path.join(os.path.dirname(path) or ".",
                           f".{os.path.basename(path)}.{os.getpid()}.tmp")
  try:
    with open(temp_path, "wb") as f:
      f.write(data)
    os.replace(temp_path, path)
  finally:
    if os.path.exists(temp_path):
      os.remove(temp_path)


def _output_path(output_dir: str, name: str) -> str:
  path = os.path.join(output_dir, input_files.sanitize_relative_name(name))
  if not input_files.is_within(path, output_dir):
    raise ValueError(f"output name {name!r} leaves {output_dir}")
  return path


# Lines of a TF runtime error that locate it rather than say what went wrong.
_OP_ERROR_NOISE = ("Graph execution error", "Detected at node", "<stack",
                   "[[")


def error_summary(error: Exception) -> str:
  """The first line of an error's message that says what went wrong.

  TensorFlow runtime errors wrap that line in lines that locate the failing
  op ("Graph execution error:", "Detected at node ...", "[[{{node ...}}]]");
  those are skipped.

  Args:
    error: any exception; a tf.errors.OpError's own message is used.

  Returns:
    One stripped line; the exception's type name if there is none.
  """
  message = error.message if isinstance(error, tf.errors.OpError) else str(
      error)
  lines = [line.strip() for line in message.splitlines()]
  lines = [line for line in lines
           if line and not line.startswith(_OP_ERROR_NOISE)]
  return lines[0] if lines else type(error).__name__


def _reason(error: Exception, path: str) -> str:
  """One line saying why an input failed, without repeating its path."""
  text = error_summary(error)
  # Pillow names the open file object ("<_io.BufferedReader name='...'>"):
  # the path is already at the start of the line.
  text = re.sub(r"\s*<_io\.\w+ name=.*?>", "", text)
  return text[len(path) + 2:] if text.startswith(path + ": ") else text


def colorize_files(
    model_path: Union[str, SavedModelColorizer],
    inputs: Union[str, Sequence[Tuple[str, str]]], output_dir: str,
    render_size: Optional[int] = None, compare: bool = False,
    progress: bool = True, stream: Optional[TextIO] = None
) -> ColorizeSummary:
  """Colorizes files through a SavedModel, each at its full size.

  An input that cannot be read or colorized gets one line on stream and the
  others go on. Existing outputs are overwritten.

  Args:
    model_path: a version dir or model base dir, or a loaded model.
    inputs: (path, relative output name) pairs from find_inputs, or an input
      spec to pass to it.
    output_dir: where the PNGs go; created if missing.
    render_size: the network's resolution (see SavedModelColorizer).
    compare: also write <name>_compare.png: gray | colorized, side by side.
    progress: draw a progress bar with an ETA on stream.
    stream: for progress and errors; default sys.stderr.

  Returns:
    A ColorizeSummary.

  Raises:
    ValueError: for a bad model path, render size or input spec (per-file
      problems are reported and counted instead).
  """
  stream = stream or sys.stderr
  start = time.monotonic()
  if isinstance(inputs, str):
    inputs = input_files.find_inputs(inputs, exclude_dir=output_dir)
  model = (model_path if isinstance(model_path, SavedModelColorizer)
           else SavedModelColorizer(model_path, render_size))
  summary = ColorizeSummary()
  bar = progress_lib.ProgressBar(len(inputs), stream=stream,
                                 enabled=progress)
  for path, name in inputs:
    try:
      output_path = _output_path(output_dir, name)
      if os.path.realpath(output_path) == os.path.realpath(path):
        raise ValueError(f"refusing to overwrite the input; pick another "
                         f"--output_dir than {output_dir}")
      rgb_uint8 = image_io.read_rgb(path)  # [H, W, 3]
      # Stored, not compressed: the bytes only go to the model in memory,
      # and Pillow's default level took 0.8 s for a 6 MP photo, about what
      # the whole serving graph takes.
      colorized_png = model.colorize_png(_png_bytes(rgb_uint8, 0))
      _write_atomically(output_path, colorized_png)
      if compare:
        colorized = np.asarray(Image.open(io.BytesIO(colorized_png)).convert(
            "RGB"))
        side_by_side = np.concatenate(
            [gray_with_same_lightness(rgb_uint8), colorized], axis=1)
        stem = os.path.splitext(output_path)[0]
        _write_atomically(
            stem + input_files.COMPARE_SUFFIX + input_files.OUTPUT_EXTENSION,
            _png_bytes(side_by_side, export.PNG_COMPRESSION))
      summary.written.append(output_path)
      bar.advance()
    except (image_io.ImageReadError, tf.errors.OpError, OSError,
            ValueError) as error:
      reason = _reason(error, path)
      summary.failed.append((path, reason))
      bar.message(f"error: {path}: {reason}")
      bar.advance(failed=True)
  bar.close()
  summary.seconds = time.monotonic() - start
  return summary
