"""Image dimensions read from the header bytes, in the graph, before decoding.

tf.io.decode_image allocates its output from the dimensions in the header
before it reads a single pixel, and a few hundred bytes can declare billions
of pixels (a decompression bomb: a PNG of 15000 x 15000 zeros compresses to
about 650 KB and decodes to 675 MB, before the float32 copies of the serving
graph). The serving graph reads those dimensions here, with core TensorFlow
ops only (the SavedModel must load with TensorFlow alone), and refuses an
image over its pixel limit before any decoder runs.

Formats and where their dimensions live:
  PNG   IHDR width, height: uint32 big-endian at bytes 16..24.
  GIF   logical screen width, height: uint16 little-endian at bytes 6..10.
  BMP   width, height: int32 little-endian at bytes 18..26 (height < 0 for
        top-down rows), where TensorFlow's decoder reads them.
  JPEG  the SOF marker, found by tf.image.extract_jpeg_shape, which reads
        the markers but no scan data.
  WebP  'VP8 ' (lossy): 14-bit width, height at bytes 26..30;
        'VP8L' (lossless): 14-bit width-1, height-1 packed at bytes 21..25;
        'VP8X' (extended: alpha, animation): 24-bit canvas width-1, height-1
        at bytes 24..30.
Anything else (including JPEG XL, which tf.io.decode_image also reads) is
refused: its size cannot be checked before decoding.
"""

import tensorflow as tf

# Every dimension above sits in the first 30 bytes.
HEADER_BYTES = 32
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GIF_MAGIC = b"GIF8"
BMP_MAGIC = b"BM"
JPEG_MAGIC = b"\xff\xd8\xff"
RIFF_MAGIC = b"RIFF"
WEBP_MAGIC = b"WEBP"  # At byte 8, after RIFF and the chunk size.
SUPPORTED_FORMATS = "PNG, JPEG, GIF, BMP or WebP"


def _header_bytes(image_bytes: tf.Tensor) -> tf.Tensor:
  """The first HEADER_BYTES bytes as int64 [HEADER_BYTES], zero-padded."""
  prefix = tf.strings.substr(image_bytes, 0, HEADER_BYTES)
  values = tf.cast(tf.io.decode_raw(prefix, tf.uint8), tf.int64)  # [<= 32]
  return tf.pad(values, [[0, HEADER_BYTES - tf.shape(values)[0]]])


def _starts_with(header: tf.Tensor, magic: bytes, offset: int = 0
                 ) -> tf.Tensor:
  # No magic contains a zero byte, so the zero padding of a short input never
  # matches by accident.
  expected = tf.constant(list(magic), tf.int64)
  return tf.reduce_all(
      tf.equal(header[offset:offset + len(magic)], expected))


def _unsigned(header: tf.Tensor, offset: int, length: int,
              big_endian: bool) -> tf.Tensor:
  """An unsigned integer of `length` bytes at `offset`, as int64."""
  weights = [256 ** (length - 1 - i if big_endian else i)
             for i in range(length)]
  return tf.reduce_sum(header[offset:offset + length] *
                       tf.constant(weights, tf.int64))


def _webp_size(header: tf.Tensor) -> tf.Tensor:
  """(height, width) int64 [2] of a WebP's first chunk; [-1, -1] if unknown.

  libwebp also decodes a VP8 or VP8L bitstream that follows the RIFF header
  without a chunk header; such files are refused rather than parsed.
  """
  lossy = _starts_with(header, b"VP8 ", 12)
  lossless = _starts_with(header, b"VP8L", 12)
  extended = _starts_with(header, b"VP8X", 12)
  lossy_size = tf.stack([_unsigned(header, 28, 2, False) % 16384,
                         _unsigned(header, 26, 2, False) % 16384])
  packed = _unsigned(header, 21, 4, False)
  lossless_size = tf.stack([(packed // 16384) % 16384 + 1,
                            packed % 16384 + 1])
  extended_size = tf.stack([_unsigned(header, 27, 3, False) + 1,
                            _unsigned(header, 24, 3, False) + 1])
  size = tf.fill([2], tf.constant(-1, tf.int64))
  size = tf.where(lossy, lossy_size, size)
  size = tf.where(lossless, lossless_size, size)
  return tf.where(extended, extended_size, size)


def declared_size(image_bytes: tf.Tensor) -> tf.Tensor:
  """The (height, width) an encoded image's header declares.

  Reads at most the first HEADER_BYTES bytes, or for JPEG the markers: no
  pixel is decoded, whatever the header says.

  Args:
    image_bytes: tf.string scalar.

  Returns:
    int64 [2], (height, width); (-1, -1) for a format other than PNG, JPEG,
    GIF, BMP and WebP, and for a WebP whose first chunk is none of VP8, VP8L
    and VP8X.

  Raises:
    tf.errors.InvalidArgumentError: at run time, for bytes that start like
      a JPEG but whose markers are broken.
  """
  header = _header_bytes(image_bytes)
  is_png = _starts_with(header, PNG_MAGIC)
  is_gif = _starts_with(header, GIF_MAGIC)
  is_bmp = _starts_with(header, BMP_MAGIC)
  is_jpeg = _starts_with(header, JPEG_MAGIC)
  is_webp = _starts_with(header, RIFF_MAGIC) & _starts_with(header,
                                                            WEBP_MAGIC, 8)

  def signed_int32(offset):
    value = _unsigned(header, offset, 4, False)
    return tf.where(value >= 2 ** 31, value - 2 ** 32, value)

  png_size = tf.stack([_unsigned(header, 20, 4, True),
                       _unsigned(header, 16, 4, True)])
  gif_size = tf.stack([_unsigned(header, 8, 2, False),
                       _unsigned(header, 6, 2, False)])
  bmp_size = tf.abs(tf.stack([signed_int32(22), signed_int32(18)]))
  size = tf.fill([2], tf.constant(-1, tf.int64))
  for condition, format_size in ((is_png, png_size), (is_gif, gif_size),
                                 (is_bmp, bmp_size),
                                 (is_webp, _webp_size(header))):
    size = tf.where(condition, format_size, size)
  # extract_jpeg_shape fails on bytes that are not a JPEG, so it runs only
  # behind the magic; it stops at the SOF marker, before the scan data.
  return tf.cond(
      is_jpeg,
      lambda: tf.cast(tf.image.extract_jpeg_shape(image_bytes)[:2], tf.int64),
      lambda: size)


def check_declared_pixels(image_bytes: tf.Tensor, max_pixels: int
                          ) -> tf.Operation:
  """An op that fails unless the header declares at most max_pixels.

  Run the decoder under tf.control_dependencies on this op, so that a
  decompression bomb is refused before anything is allocated for it.

  Args:
    image_bytes: tf.string scalar.
    max_pixels: the largest width * height accepted.

  Returns:
    The check, an op with no output.

  Raises:
    tf.errors.InvalidArgumentError: at run time, naming the limit, for a
      header declaring more pixels, and for a format whose header is not
      read here (see declared_size).
  """
  size = declared_size(image_bytes)  # [2], (height, width)
  known = tf.reduce_all(size >= 0)
  # float64: two 32-bit dimensions can overflow an int64 product.
  pixels = tf.reduce_prod(tf.cast(size, tf.float64))
  format_check = tf.debugging.Assert(known, [
      f"image_bytes is not a {SUPPORTED_FORMATS} image, the formats whose "
      "size is checked before decoding"])
  with tf.control_dependencies([format_check]):
    return tf.debugging.Assert(pixels <= float(max_pixels), [
        f"image_bytes declares more pixels than the {max_pixels}-pixel "
        "limit in its header; refused before decoding. Height, width:",
        size[0], size[1]])
