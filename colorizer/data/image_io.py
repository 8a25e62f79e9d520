"""Reading user images with Pillow: any format, mode and orientation -> RGB.

Used wherever a file on disk is read (the folder source, prepare_data, the
colorize binary). Pillow reads more than TensorFlow's decoders (WebP, TIFF,
CMYK, 16-bit, EXIF orientation) and reads the header before the pixels, so an
oversized image is refused before it is decoded.
"""

import io
import os
import threading
import warnings
from typing import Dict, List, Tuple, Union

from absl import logging
import numpy as np
from PIL import Image
from PIL import ImageOps

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif",
                    ".tiff")
DEFAULT_MAX_PIXELS = 64_000_000
# The Pillow plugins read_rgb may use: the formats of IMAGE_EXTENSIONS (the
# JPEG plugin also opens the multi-picture JPEGs some cameras write). Any
# other plugin is more attack surface than use: EPS runs Ghostscript, and
# rarely used decoders are the least hardened.
PILLOW_FORMATS = ("JPEG", "PNG", "BMP", "GIF", "WEBP", "TIFF")


class ImageReadError(ValueError):
  """An image that cannot be used: corrupt, truncated, not an image, too big."""


def list_image_files(folder: str) -> List[str]:
  """All image files below folder, recursively, sorted; hidden files skipped.

  Raises:
    ValueError: if folder does not exist or is not a directory.
  """
  if not os.path.isdir(folder):
    raise ValueError(f"{folder!r} is not a directory.")
  paths = []
  for root, dirs, files in os.walk(folder, followlinks=True):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    for name in files:
      if (not name.startswith(".") and
          os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS):
        paths.append(os.path.join(root, name))
  return sorted(paths)


def _to_rgb_uint8(image: Image.Image) -> np.ndarray:
  """Any Pillow mode -> uint8 [H, W, 3]."""
  if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
    # 16-bit and 32-bit gray: Pillow's convert("RGB") clips at 255, so scale
    # the real range down instead.
    values = np.asarray(image, dtype=np.float64)
    scale = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 \
        else 255.0
    if image.mode == "F":
      scale = max(1.0, float(values.max()))
    gray = np.clip(np.round(values / scale * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)
  if image.mode in ("RGBA", "LA", "PA") or (
      image.mode == "P" and "transparency" in image.info):
    # Transparent areas carry no color to learn or restore: composite on white
    # as a viewer would show them.
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    image = Image.alpha_composite(background, rgba)
  return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _upright(image: Image.Image, name: str) -> Image.Image:
  """Applies the EXIF orientation; a malformed EXIF block is ignored.

  Scanned and edited photos often carry a broken EXIF block (a bad TIFF
  header inside APP1) over perfectly good pixels: those are used as stored
  rather than the whole image being refused.
  """
  try:
    return ImageOps.exif_transpose(image)
  except Exception as error:  # pylint: disable=broad-except
    logging.warning("%s: unreadable EXIF block (%s: %s); using the pixels as "
                    "stored.", name, type(error).__name__, error)
    return image


def read_rgb(source: Union[str, bytes],
             max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
  """Reads an image file or encoded bytes as uint8 RGB [H, W, 3].

  Handles JPEG, PNG, BMP, GIF, WebP and TIFF (the first frame of an
  animation), EXIF orientation, grayscale, palette, alpha, CMYK and 16-bit
  images. Other formats are refused, even those Pillow reads.

  Args:
    source: a path or the encoded bytes.
    max_pixels: images with more pixels are refused before decoding.

  Returns:
    uint8 [H, W, 3].

  Raises:
    ImageReadError: if the data is not a readable image or is too large.
  """
  name = source if isinstance(source, str) else "<bytes>"
  try:
    with warnings.catch_warnings():
      # We enforce our own, lower, pixel limit below.
      warnings.simplefilter("ignore", Image.DecompressionBombWarning)
      stream = open(source, "rb") if isinstance(source, str) else io.BytesIO(
          source)
      with stream, Image.open(stream, formats=PILLOW_FORMATS) as image:
        width, height = image.size
        if width * height > max_pixels:
          raise ImageReadError(
              f"{name}: {width}x{height} is over the {max_pixels}-pixel limit")
        if width < 1 or height < 1:
          raise ImageReadError(f"{name}: empty image ({width}x{height})")
        image.seek(0)
        image.load()
        return _to_rgb_uint8(_upright(image, name))
  except ImageReadError:
    raise
  except Exception as error:  # pylint: disable=broad-except
    # Pillow's plugins fail on malformed data with more than OSError and
    # ValueError (tests/test_fuzz.py found a TypeError from the TIFF plugin);
    # any of them escaping would stop a training run or the colorize binary
    # instead of skipping one file. KeyboardInterrupt and SystemExit are not
    # Exceptions and still pass.
    raise ImageReadError(f"{name}: {type(error).__name__}: {error}") from error


class SkipCounter:
  """Thread-safe record of the files a pipeline skipped, and why.

  tf.data runs decoding on several threads; each unreadable file is logged
  once, the first time it is met, and counted once however many epochs see it.
  """

  def __init__(self):
    self._lock = threading.Lock()
    self._reasons: Dict[str, str] = {}

  def add(self, path: str, reason: str) -> None:
    with self._lock:
      if path in self._reasons:
        return
      self._reasons[path] = reason
    logging.warning("Skipping unreadable image (%d so far): %s", self.count,
                    reason)

  @property
  def count(self) -> int:
    with self._lock:
      return len(self._reasons)

  def items(self) -> List[Tuple[str, str]]:
    with self._lock:
      return sorted(self._reasons.items())
