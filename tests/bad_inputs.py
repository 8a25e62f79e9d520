"""Generates the bad and awkward inputs of the robustness tests.

No binary fixture is committed: every file is made here from Pillow, zlib
and struct. Two kinds:

  GOOD_CASES   unusual but readable images (1x1, 2x1000, 16-bit, CMYK,
               palette with transparency, animated GIF, EXIF-rotated JPEG,
               gray + alpha, names with spaces and non-ASCII characters): every
               entry point must use them.
  BAD_CASES    unusable files (empty, truncated, random bytes, text, a TIFF
               that makes Pillow raise TypeError, a PNG header declaring
               100000 x 100000 pixels): every entry point must refuse
               exactly these, one message each, and go on.

HEADER_BOMBS holds, per format, a small file whose header declares an image
far over any pixel limit, followed by garbage: a decoder that trusted the
header would allocate gigabytes before noticing the garbage.
"""

import dataclasses
import io
import os
import struct
import zlib
from typing import Callable, Dict, Optional, Tuple

import numpy as np
from PIL import Image
from PIL import ImageDraw

EXIF_ORIENTATION_TAG = 0x0112
# Orientation 6: the stored pixels are shown rotated 90 degrees clockwise.
ROTATE_CLOCKWISE = 6
BOMB_SIDE = 100_000


@dataclasses.dataclass(frozen=True)
class Case:
  """One generated file.

  Attributes:
    name: its path below the folder it is written to.
    make: returns its bytes.
    shown_size: (height, width) once read upright by colorizer.data.image_io
      (EXIF orientation applied); None for a file nothing can use.
    stored_size: (height, width) of the stored pixels, what the serving
      graph decodes (it does not apply EXIF orientation).
  """
  name: str
  make: Callable[[], bytes]
  shown_size: Optional[Tuple[int, int]] = None
  stored_size: Optional[Tuple[int, int]] = None


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
  """A colorful uint8 RGB [H, W, 3]: gradients, so every channel varies."""
  rows, cols = np.mgrid[0:height, 0:width]
  noise = np.random.RandomState(seed).randint(0, 30, (height, width, 3))
  rgb = np.stack([cols * 220 // max(width - 1, 1) + 20,
                  rows * 200 // max(height - 1, 1) + 30,
                  (rows + cols) * 100 // max(height + width - 2, 1) + 60], -1)
  return np.clip(rgb + noise, 0, 255).astype(np.uint8)


def encode(image: Image.Image, image_format: str, **options) -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, format=image_format, **options)
  return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
  crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
  return struct.pack(">I", len(payload)) + kind + payload + struct.pack(
      ">I", crc)


def raw_png(width: int, height: int, bit_depth: int, color_type: int,
            idat: bytes) -> bytes:
  """A PNG with the given IHDR and IDAT payload, valid CRCs, nothing else."""
  header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0,
                       0)
  return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) +
          _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b""))


def png_16bit(pixels: np.ndarray) -> bytes:
  """16-bit gray ([H, W]) or RGB ([H, W, 3]) PNG from uint16 pixels.

  Pillow cannot write 16-bit RGB, so the file is assembled here.
  """
  height, width = pixels.shape[:2]
  color_type = 2 if pixels.ndim == 3 else 0
  rows = pixels.astype(">u2").reshape(height, -1).view(np.uint8)
  # Each scanline starts with its filter type, 0 (none).
  scanlines = np.concatenate([np.zeros([height, 1], np.uint8), rows], axis=1)
  return raw_png(width, height, 16, color_type,
                 zlib.compress(scanlines.tobytes()))


def png_bomb(width: int = BOMB_SIDE, height: int = BOMB_SIDE) -> bytes:
  """A valid PNG signature and IHDR declaring width x height, garbage IDAT."""
  return raw_png(width, height, 8, 2, zlib.compress(b"\x00" * 64))


def _gradient_16bit(height: int, width: int, channels: int) -> np.ndarray:
  rows, cols = np.mgrid[0:height, 0:width]
  planes = [(rows * 60000 // max(height - 1, 1) + k * 2000) for k in
            range(channels)]
  planes[-1] = planes[-1] + cols * 1000
  pixels = np.clip(np.stack(planes, -1), 0, 65535).astype(np.uint16)
  return pixels[..., 0] if channels == 1 else pixels


def _palette_with_transparency() -> bytes:
  image = Image.fromarray(photo(22, 34, 3)).convert(
      "P", palette=Image.Palette.ADAPTIVE, colors=16)
  ImageDraw.Draw(image).rectangle([0, 0, 4, 4], fill=15)
  return encode(image, "PNG", transparency=15)  # The corner is transparent.


def animated_gif_frames():
  """Three frames: red, green, blue (18 high, 25 wide)."""
  return [Image.new("RGB", (25, 18), color)
          for color in ((200, 30, 30), (30, 200, 30), (30, 30, 200))]


def _animated_gif() -> bytes:
  first, *rest = animated_gif_frames()
  return encode(first, "GIF", save_all=True, append_images=rest, duration=50,
                loop=0)


def exif_rotated_jpeg() -> bytes:
  """Stored 40 wide x 24 high, dark at the left; shown 24 wide x 40 high."""
  exif = Image.Exif()
  exif[EXIF_ORIENTATION_TAG] = ROTATE_CLOCKWISE
  return encode(Image.fromarray(photo(24, 40, 8)), "JPEG", exif=exif,
                quality=95)


def _gray_alpha() -> bytes:
  gray = photo(21, 27, 9)[..., 0]
  alpha = np.full_like(gray, 255)
  alpha[:, :9] = 0  # The left third is transparent.
  return encode(Image.merge("LA", [Image.fromarray(gray),
                                   Image.fromarray(alpha)]), "PNG")


def tiff_with_float_strip_offsets() -> bytes:
  """A TIFF whose StripOffsets are typed DOUBLE: Pillow raises TypeError.

  Found by tests/test_fuzz.py (one flipped bit in the tag's type field);
  before image_io caught every Exception this stopped a training run.
  """
  tiff = bytearray(encode(Image.fromarray(photo(6, 7, 1)), "TIFF"))
  assert tiff[:4] == b"II*\x00", "expected a little-endian TIFF"
  ifd_offset = struct.unpack("<I", tiff[4:8])[0]
  (num_entries,) = struct.unpack("<H", tiff[ifd_offset:ifd_offset + 2])
  for entry in range(ifd_offset + 2, ifd_offset + 2 + 12 * num_entries, 12):
    tag = struct.unpack("<H", tiff[entry:entry + 2])[0]
    if tag == 273:  # StripOffsets.
      tiff[entry + 2:entry + 4] = struct.pack("<H", 12)  # Type: DOUBLE.
      return bytes(tiff)
  raise ValueError("Pillow wrote no StripOffsets tag")


def _random_bytes(size: int, seed: int) -> bytes:
  return np.random.RandomState(seed).bytes(size)


def _good(name, make, height, width, stored=None):
  return Case(name, make, (height, width), stored or (height, width))


GOOD_CASES = (
    _good("tiny 1x1.png",
          lambda: encode(Image.fromarray(photo(1, 1, 1)), "PNG"), 1, 1),
    _good("strip 2x1000.png",
          lambda: encode(Image.fromarray(photo(1000, 2, 2)), "PNG"), 1000, 2),
    _good("gray16.png", lambda: png_16bit(_gradient_16bit(24, 30, 1)), 24, 30),
    _good("rgb16.png", lambda: png_16bit(_gradient_16bit(20, 28, 3)), 20, 28),
    _good("cmyk.jpg", lambda: encode(
        Image.fromarray(photo(26, 31, 4)).convert("CMYK"), "JPEG"), 26, 31),
    _good("palette transparent.png", _palette_with_transparency, 22, 34),
    _good("animated.gif", _animated_gif, 18, 25),
    _good("rotated exif6.jpg", exif_rotated_jpeg, 40, 24, stored=(24, 40)),
    _good("gray alpha.png", _gray_alpha, 21, 27),
    _good("ph oto é 東京.jpg",
          lambda: encode(Image.fromarray(photo(30, 40, 5)), "JPEG"), 30, 40),
    _good(os.path.join("sous dossier ü", "vue 北京 2.png"),
          lambda: encode(Image.fromarray(photo(32, 20, 6)), "PNG"), 32, 20),
)

BAD_CASES = (
    Case("zero bytes.jpg", lambda: b""),
    Case("truncated.jpg", lambda: encode(
        Image.fromarray(photo(64, 64, 10)), "JPEG", quality=95)[:700]),
    Case("truncated.png", lambda: encode(
        Image.fromarray(photo(64, 64, 11)), "PNG")[:900]),
    Case("random bytes.jpg", lambda: _random_bytes(3000, 12)),
    Case("random bytes.webp", lambda: _random_bytes(3000, 13)),
    Case("jpeg magic then garbage.jpg",
         lambda: b"\xff\xd8\xff\xe0" + _random_bytes(500, 14)),
    Case("notes.png", lambda: "not an image, just text ✓\n".encode() * 20),
    Case("float strip offsets.tif", tiff_with_float_strip_offsets),
    Case("bomb 100000x100000.png", png_bomb),
)


def _patched(data: bytes, offset: int, values: bytes) -> bytes:
  return data[:offset] + values + data[offset + len(values):]


def _jpeg_bomb() -> bytes:
  """A real JPEG whose SOF0 marker declares 65000 x 65000, scan data cut."""
  jpeg = encode(Image.fromarray(photo(16, 16)), "JPEG")
  sof = jpeg.index(b"\xff\xc0")
  # SOF0: marker, length (2), precision (1), height (2), width (2).
  jpeg = _patched(jpeg, sof + 5, struct.pack(">HH", 65000, 65000))
  return jpeg[:jpeg.index(b"\xff\xda") + 40]


def _webp_bomb(lossless: bool = False, alpha: bool = False) -> bytes:
  """A small WebP with its header's dimensions patched to the maximum."""
  image = Image.fromarray(photo(16, 16))
  if alpha:  # Real transparency, so that the encoder writes a VP8X chunk.
    image.putalpha(Image.fromarray(photo(16, 16)[..., 0]))
  webp = encode(image, "WEBP", lossless=lossless)
  chunk = webp[12:16]
  if chunk == b"VP8X":  # 24-bit canvas width-1, height-1 at 24..30.
    webp = _patched(webp, 24, (BOMB_SIDE - 1).to_bytes(3, "little") * 2)
  elif chunk == b"VP8L":  # 14-bit width-1, height-1 packed at 21..25.
    packed = int.from_bytes(webp[21:25], "little")
    packed = (packed & ~((1 << 28) - 1)) | (16383 << 14) | 16383
    webp = _patched(webp, 21, packed.to_bytes(4, "little"))
  else:  # 'VP8 ': 14-bit width, height (plus 2 scale bits) at 26..30.
    webp = _patched(webp, 26, struct.pack("<HH", 16383, 16383))
  return webp[:60] + _random_bytes(100, 15)


def webp_without_chunk_header() -> bytes:
  """RIFF, WEBP, then a bare VP8 bitstream: libwebp decodes it anyway."""
  webp = encode(Image.fromarray(photo(16, 20)), "WEBP")
  bitstream = webp[20:]  # Drops the 'VP8 ' chunk's tag and size.
  return (b"RIFF" + struct.pack("<I", 4 + len(bitstream)) + b"WEBP" +
          bitstream)


def _gif_bomb() -> bytes:
  """GIF89a with a 65535 x 65535 logical screen, then garbage."""
  gif = encode(Image.fromarray(photo(16, 16)).convert("P"), "GIF")
  return _patched(gif, 6, struct.pack("<HH", 65535, 65535))[:80]


def _bmp_bomb() -> bytes:
  """A BMP header declaring 100000 x 100000 top-down (negative height)."""
  bmp = encode(Image.fromarray(photo(4, 4)), "BMP")
  return _patched(bmp, 18, struct.pack("<ii", BOMB_SIDE, -BOMB_SIDE))


# Format -> (bytes, declared (height, width)).
HEADER_BOMBS: Dict[str, Tuple[Callable[[], bytes], Tuple[int, int]]] = {
    "png": (png_bomb, (BOMB_SIDE, BOMB_SIDE)),
    "png_mid": (lambda: png_bomb(12_000, 12_000), (12_000, 12_000)),
    "jpeg": (_jpeg_bomb, (65000, 65000)),
    "gif": (_gif_bomb, (65535, 65535)),
    "bmp": (_bmp_bomb, (BOMB_SIDE, BOMB_SIDE)),
    "webp_lossy": (_webp_bomb, (16383, 16383)),
    "webp_lossless": (lambda: _webp_bomb(lossless=True), (16384, 16384)),
    "webp_extended": (lambda: _webp_bomb(alpha=True), (BOMB_SIDE, BOMB_SIDE)),
}


def write_cases(root: str, cases) -> Dict[str, str]:
  """Writes each case below root.

  Returns:
    Case name -> its absolute path.
  """
  paths = {}
  for case in cases:
    path = os.path.join(root, case.name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
      f.write(case.make())
    paths[case.name] = path
  return paths


def small_seed_images() -> Dict[str, bytes]:
  """Small valid files that fuzzers mutate, one per format read anywhere.

  TIFF is read by Pillow only; the serving graph refuses it.
  """
  image = Image.fromarray(photo(6, 7, 16))
  return {"png": encode(image, "PNG"), "jpeg": encode(image, "JPEG"),
          "gif": encode(image.convert("P"), "GIF"),
          "bmp": encode(image, "BMP"),
          "webp": encode(image, "WEBP", lossless=True),
          "tiff": encode(image, "TIFF", compression="tiff_deflate")}


def salt_folder(photo_dir: str, output_dir: str) -> Dict[str, str]:
  """Links every image of photo_dir into output_dir and adds every case.

  For the end-to-end check of issue 6: a folder of real photos salted with
  the bad inputs must train to the end and report exactly BAD_CASES.

  Returns:
    Bad case name -> its path.
  """
  from colorizer.data import image_io  # pylint: disable=g-import-not-at-top
  os.makedirs(output_dir, exist_ok=True)
  for path in image_io.list_image_files(photo_dir):
    link = os.path.join(output_dir, "photos", os.path.relpath(path, photo_dir))
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if not os.path.lexists(link):
      os.symlink(os.path.abspath(path), link)
  write_cases(output_dir, GOOD_CASES)
  return write_cases(output_dir, BAD_CASES)


if __name__ == "__main__":
  # python -m tests.bad_inputs PHOTO_DIR OUTPUT_DIR
  import sys  # pylint: disable=g-import-not-at-top
  for bad_path in sorted(salt_folder(sys.argv[1], sys.argv[2]).values()):
    print(bad_path)
