"""Timing pieces of benchmarks/serving_latency: synthetic photos, percentiles,
interleaved timing of several models, and per-stage timing of the serving
graph. No flags: the binary and the tests share it.
"""

import time


def synthetic_photo(width: int, height: int, seed: int = 0):
  """uint8 [H, W, 3]: smooth colors, a few hard edges and fine grain."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(seed)
  coarse = Image.fromarray(rng.randint(0, 256, (6, 8, 3)).astype(np.uint8))
  rgb = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC),
                   np.float64)
  rows, cols = np.mgrid[0:height, 0:width]
  for _ in range(4):  # Discs of another color: edges to keep.
    row, col = rng.uniform(0, height), rng.uniform(0, width)
    radius = rng.uniform(0.05, 0.25) * min(width, height)
    disc = (rows - row) ** 2 + (cols - col) ** 2 < radius ** 2
    rgb[disc] = rgb[disc] * 0.3 + rng.uniform(0, 255, 3) * 0.7
  rgb += rng.normal(0, 6, rgb.shape)
  return np.clip(rgb, 0, 255).astype(np.uint8)


def jpeg_bytes(rgb_uint8) -> bytes:
  import io  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  buffer = io.BytesIO()
  Image.fromarray(rgb_uint8).save(buffer, format="JPEG", quality=90)
  return buffer.getvalue()


def percentiles(seconds):
  """(p50, p95) of a list of durations, by linear interpolation."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  return (float(np.percentile(seconds, 50)), float(np.percentile(seconds, 95)))


def time_models(serves, image_bytes, warmup: int, repeats: int):
  """{name: [seconds]} of serving image_bytes, the models taking turns."""
  for serve in serves.values():
    for _ in range(warmup):
      serve(image_bytes)
  seconds = {name: [] for name in serves}
  for _ in range(repeats):
    for name, serve in serves.items():
      start = time.perf_counter()
      serve(image_bytes)
      seconds[name].append(time.perf_counter() - start)
  return seconds


def serve_fn(loaded):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from colorizer.serving import export  # pylint: disable=g-import-not-at-top
  signature = loaded.signatures[export.SERVING_SIGNATURE]
  return lambda image_bytes: signature(image_bytes=tf.constant(
      [image_bytes]))[export.OUTPUT_BYTES].numpy()


def graph_stages(loaded, metadata):
  """[(stage, variant, fn, input name, output name)] in serving order."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from colorizer import color  # pylint: disable=g-import-not-at-top
  from colorizer.serving import export  # pylint: disable=g-import-not-at-top
  from colorizer.serving import full_resolution  # pylint: disable=g-import-not-at-top
  from colorizer.serving import joint_bilateral  # pylint: disable=g-import-not-at-top
  render_size = metadata["render_size"]
  guided = metadata.get("guided_upsample", False)
  serve_lab = loaded.signatures[export.LAB_SIGNATURE]
  decode_native = lambda image_bytes: tf.io.decode_image(
      image_bytes, channels=0, expand_animations=False)
  l_star_tfio = lambda rgb_uint8: color.rgb_to_lab(
      color.rgb_uint8_to_float(rgb_uint8))[..., :1][None]
  resize_down = lambda l_star: tf.image.resize(
      l_star, [render_size, render_size], antialias=True)
  three_steps = lambda l_star, ab: color.rgb_float_to_uint8(color.lab_to_rgb(
      tf.concat([l_star, color.clamp_ab_to_gamut(l_star, ab, 12)], -1)))[0]
  return [
      ("decode", "decode_rgb_uint8", full_resolution.decode_rgb_uint8,
       ("bytes",), "rgb"),
      ("decode", "decode_image_alone", decode_native, ("bytes",), None),
      ("l_star", "from_uint8_table", lambda rgb_uint8: (
          color.l_star_from_rgb_uint8(rgb_uint8)[None]), ("rgb",), "l_star"),
      ("l_star", "before_tfio_lab", l_star_tfio, ("rgb",), None),
      ("resize_down", "antialias", resize_down, ("l_star",), "l_render"),
      ("network", "colorize_lab_at_render_size",
       lambda l_render: serve_lab(l_star=l_render)[export.OUTPUT_AB],
       ("l_render",), "ab_render"),
      # The model's own upsampling feeds the clamp.
      ("upsample", "joint_bilateral", joint_bilateral.upsample_ab,
       ("l_star", "l_render", "ab_render"), "ab" if guided else None),
      ("upsample", "before_bilinear", lambda l_star, ab_render: (
          tf.image.resize(ab_render, tf.shape(l_star)[1:3])),
       ("l_star", "ab_render"), None if guided else "ab"),
      ("clamp_to_uint8", "fused_10_steps", lambda l_star, ab: (
          color.lab_to_rgb_uint8_in_gamut(l_star, ab)[0]), ("l_star", "ab"),
       "rgb_out"),
      ("clamp_to_uint8", "before_12_steps_then_lab_to_rgb", three_steps,
       ("l_star", "ab"), None),
      ("png", f"compression_{export.PNG_COMPRESSION}",
       lambda rgb_out: tf.io.encode_png(
           rgb_out, compression=export.PNG_COMPRESSION), ("rgb_out",), None),
      ("png", "before_zlib_default", tf.io.encode_png, ("rgb_out",), None),
  ]


def print_stages(loaded, metadata, image_bytes: bytes, size: str,
                 warmup: int, repeats: int) -> None:
  """Times each stage of serving_default on its own, as tf.functions.

  Each stage's input is the previous stage's output, computed once; the
  variants of a stage take turns.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from colorizer import color  # pylint: disable=g-import-not-at-top
  values = {"bytes": tf.constant(image_bytes)}
  for stage, variant, fn, inputs, output in graph_stages(loaded, metadata):
    function = tf.function(fn)
    args = [values[name] for name in inputs]
    result = function(*args)
    if output:
      values[output] = result
    seconds = time_models({variant: lambda _: tf.nest.map_structure(
        lambda tensor: tensor.numpy(), function(*args))}, None, warmup,
                          repeats)[variant]
    p50, p95 = percentiles(seconds)
    print(f"name=serving_stage input={size} stage={stage} variant={variant} "
          f"p50_s={p50:.4f} p95_s={p95:.4f}", flush=True)
  # The clamp's bisection costs in proportion to the pixels out of gamut:
  # more for a trained, vivid model than for an untrained one.
  inside = color.in_srgb_gamut(tf.concat([values["l_star"], values["ab"]],
                                         axis=-1))
  print(f"name=serving_stage input={size} out_of_gamut_share="
        f"{1.0 - float(tf.reduce_mean(tf.cast(inside, tf.float32))):.4f}",
        flush=True)
