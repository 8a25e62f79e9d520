r"""Edge-aware vs bilinear upsampling of a*b*: CIEDE2000, PSNR, edge crops.

  python -m tools.guided_filter_check \
      --images='../shared/data/bsds300/val/*.jpg' --output_dir=/tmp/gf_check

  # The network's own a*b*: a model exported without the edge-aware
  # upsampling, so that colorize_lab returns them at its render size as
  # they are.
  colorizer-export --model_dir=runs/photos --base_dir=/tmp/gf --name=photos \
      --noguided_upsample
  python -m tools.guided_filter_check --model=/tmp/gf/photos \
      --images='../shared/data/bsds300/val/*.jpg' --output_dir=/tmp/gf_check

  # The sweeps that chose joint_bilateral.SIGMA and guided_filter's settings:
  python -m tools.guided_filter_check --render_size=32 --sigmas=4,8,12,16,24 \
      --radii=1,2,4 --epsilons=1e-4,1e-3,1e-2 --sheet_images=0

Each photo's L* is resized to render_size x render_size as the serving graph
does. The low-resolution a*b* are either the photo's own (--model unset:
downsampled the same way, a perfect network, which isolates the upsampler)
or the model's. They are upsampled to the photo's size bilinearly (the
former serving graph), by joint bilateral upsampling at each sigma
(colorizer.serving.joint_bilateral, the serving graph's), and by the guided
filter at each radius (render pixels) and epsilon (for a guide of L* / 100;
tools.guided_filter), clamped into the gamut, and compared with
the photo: mean CIEDE2000, CIEDE2000 over the edge pixels (the tenth with
the steepest L*) and beside them (within one render pixel: where halos
show), and PSNR of sRGB in dB. Gains are paired over the photos, with 95%
intervals.

With --sheet_images, crops of that many photos where the most pixels lie
beside edges (truth, bilinear, the first joint bilateral setting and the
first guided filter one, at 3x) go to <output_dir>/edges_<photo>.png and
one contact sheet, edges.png.
"""

import glob
import json
import os
import sys

from absl import app
from absl import flags
import numpy as np

_IMAGES = flags.DEFINE_string(
    "images", "../shared/data/bsds300/val/*.jpg", "Glob of photos.")
_NUM_IMAGES = flags.DEFINE_integer("num_images", 100, "Photos scored.")
_MODEL = flags.DEFINE_string(
    "model", "", "A SavedModel (version or model base dir) exported with "
    "--noguided_upsample; unset: the photos' own a*b* downsampled.")
_RENDER_SIZE = flags.DEFINE_integer(
    "render_size", 0, "Square render size; 0: a quarter of each photo's "
    "longer side (the model's own render size with --model).")
_RADII = flags.DEFINE_list(
    "radii", [], "Guided filter radii in render pixels; unset: "
    "guided_filter.RADIUS.")
_EPSILONS = flags.DEFINE_list(
    "epsilons", [], "Guided filter epsilons; unset: guided_filter.EPSILON.")
_SIGMAS = flags.DEFINE_list(
    "sigmas", [], "Joint bilateral sigmas in L* units; unset: "
    "joint_bilateral.SIGMA.")
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", "", "Writes results.json and the edge crops here.")
_SHEET_IMAGES = flags.DEFINE_integer(
    "sheet_images", 6, "Photos whose edge crops are saved (needs "
    "--output_dir).")
_CROP = flags.DEFINE_integer("crop", 72, "Edge crop size in photo pixels.")
_ZOOM = 3
_METRICS = ("ciede2000", "ciede2000_edges", "ciede2000_halo", "psnr")
# The share of pixels, by L* gradient, that count as edges.
_EDGE_SHARE = 0.1


def _edge_masks(l_star: np.ndarray, halo_width: int):
  """bool [H, W] each: edges and the band beside them where halos show.

  Edges are the _EDGE_SHARE of pixels with the steepest L*; the halo band
  holds the other pixels within halo_width of an edge.
  """
  from tools import guided_filter  # pylint: disable=g-import-not-at-top
  rows, cols = np.gradient(l_star.astype(np.float64))
  magnitude = np.hypot(rows, cols)
  edges = magnitude >= np.quantile(magnitude, 1.0 - _EDGE_SHARE)
  near = guided_filter.box_mean(edges[None, ..., None].astype(np.float64),
                                halo_width)[0, ..., 0].numpy() > 0
  return edges, near & ~edges


def _scores(lab_pred, lab_true, rgb_pred, rgb_true, edges, halo):
  from colorizer.evaluation import metrics  # pylint: disable=g-import-not-at-top
  delta_e = metrics.ciede2000(lab_pred, lab_true)  # [H, W]
  return {"ciede2000": float(delta_e.mean()),
          "ciede2000_edges": float(delta_e[edges].mean()),
          "ciede2000_halo": float(delta_e[halo].mean()),
          "psnr": float(metrics.psnr(rgb_pred[None], rgb_true[None])[0])}


def _methods():
  """[(name, kind, parameters)]: bilinear first, then the sweep."""
  from tools import guided_filter  # pylint: disable=g-import-not-at-top
  from colorizer.serving import joint_bilateral  # pylint: disable=g-import-not-at-top
  radii = ([int(value) for value in _RADII.value] if _RADII.value else
           [guided_filter.RADIUS])
  sigmas = ([float(value) for value in _SIGMAS.value] if _SIGMAS.value else
            [joint_bilateral.SIGMA])
  epsilons = ([float(value) for value in _EPSILONS.value] if _EPSILONS.value
              else [guided_filter.EPSILON])
  return ([("bilinear", "bilinear", ())] +
          [(f"joint bilateral sigma={sigma:g}", "bilateral", (sigma,))
           for sigma in sigmas] +
          [(f"guided filter r={radius} eps={epsilon:g}", "guided",
            (radius, epsilon)) for radius in radii for epsilon in epsilons])


def _low_resolution_ab(lab_true, l_render, render_size, serve_lab):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if serve_lab is None:
    return tf.image.resize(lab_true[..., 1:], [render_size, render_size],
                           antialias=True)
  return serve_lab(l_star=l_render)["ab"]


def _upsample(l_star, l_render, ab_low, kind, parameters):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tools import guided_filter  # pylint: disable=g-import-not-at-top
  from colorizer.serving import joint_bilateral  # pylint: disable=g-import-not-at-top
  if kind == "guided":
    return guided_filter.upsample_ab(l_star, l_render, ab_low, *parameters)
  if kind == "bilateral":
    return joint_bilateral.upsample_ab(l_star, l_render, ab_low, *parameters)
  return tf.image.resize(ab_low, tf.shape(l_star)[1:3])


def _edge_crop(mask: np.ndarray, size: int):
  """(top, left, size) of the size x size window with the most mask pixels."""
  height, width = mask.shape
  size = min(size, height, width)
  summed = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
  counts = (summed[size:, size:] - summed[:-size, size:] -
            summed[size:, :-size] + summed[:-size, :-size])
  top, left = np.unravel_index(np.argmax(counts), counts.shape)
  return int(top), int(left), size


def _labelled_tile(rgb_uint8: np.ndarray, label: str) -> np.ndarray:
  from PIL import Image, ImageDraw  # pylint: disable=g-import-not-at-top
  image = Image.fromarray(rgb_uint8).resize(
      (rgb_uint8.shape[1] * _ZOOM, rgb_uint8.shape[0] * _ZOOM),
      Image.Resampling.NEAREST)
  canvas = Image.new("RGB", (image.width, image.height + 14), "white")
  canvas.paste(image, (0, 14))
  ImageDraw.Draw(canvas).text((2, 1), label, fill="black")
  return np.asarray(canvas)


def _row(tiles):
  gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
  return np.concatenate(sum(([tile, gap] for tile in tiles), [])[:-1], axis=1)


def _summary(per_image, names):
  from colorizer.evaluation import stats  # pylint: disable=g-import-not-at-top
  rows = []
  for name in names:
    row = {"method": name}
    for metric in _METRICS:
      values = np.array([scores[name][metric] for scores in per_image])
      base = np.array([scores["bilinear"][metric] for scores in per_image])
      row[metric] = float(values.mean())
      row[f"{metric}_gain"], row[f"{metric}_gain_95"] = (
          stats.paired_mean_difference(values, base))
    rows.append(row)
  return rows


def _markdown(rows, header: str) -> str:
  lines = [header, "",
           "| method | CIEDE2000 | gain | at edges | gain | beside edges | "
           "gain | PSNR dB | gain |", "|---|---|---|---|---|---|---|---|---|"]
  for row in rows:
    cells = [row["method"]]
    for metric in _METRICS:
      gain, half_width = row[f"{metric}_gain"], row[f"{metric}_gain_95"]
      cells += [f"{row[metric]:.3f}", f"{gain:+.3f} ± {half_width:.3f}"]
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)


def _score_photo(path, serve_lab, model_render_size, methods):
  """(scores by method name, 8-bit output by name, rgb_uint8, halo mask)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from colorizer import color  # pylint: disable=g-import-not-at-top
  from colorizer.data import image_io  # pylint: disable=g-import-not-at-top
  rgb_uint8 = image_io.read_rgb(path)
  lab_true = color.rgb_to_lab(color.rgb_uint8_to_float(rgb_uint8))[None]
  l_star = lab_true[..., :1]  # [1, H, W, 1]
  render_size = (model_render_size or _RENDER_SIZE.value or
                 max(4, round(max(rgb_uint8.shape[:2]) / 4)))
  l_render = tf.image.resize(l_star, [render_size, render_size],
                             antialias=True)
  ab_low = _low_resolution_ab(lab_true, l_render, render_size, serve_lab)
  # Halos reach about one render pixel from an edge.
  edges, halo = _edge_masks(l_star[0, ..., 0].numpy(), max(
      1, round(max(rgb_uint8.shape[:2]) / render_size)))
  scores, outputs = {}, {}
  for name, kind, parameters in methods:
    ab = color.clamp_ab_to_gamut(
        l_star, _upsample(l_star, l_render, ab_low, kind, parameters))
    lab_pred = tf.concat([l_star, ab], axis=-1)[0]
    rgb_pred = color.lab_to_rgb(lab_pred).numpy()
    scores[name] = _scores(lab_pred.numpy(), lab_true[0].numpy(), rgb_pred,
                           rgb_uint8 / 255.0, edges, halo)
    outputs[name] = color.rgb_float_to_uint8(rgb_pred).numpy()
  return scores, outputs, rgb_uint8, halo


def _sheet_row(rgb_uint8, outputs, halo, names):
  """Truth and the first method of each kind, cropped where halos show."""
  top, left, size = _edge_crop(halo, _CROP.value)
  window = (slice(top, top + size), slice(left, left + size))
  shown = ["bilinear"] + [next(name for name in names if name.startswith(kind))
                          for kind in ("joint", "guided")
                          if any(name.startswith(kind) for name in names)]
  return _row([_labelled_tile(rgb_uint8[window], "truth")] +
              [_labelled_tile(outputs[name][window], name) for name in shown])


def _write_png(path: str, rgb_uint8: np.ndarray) -> None:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.io.write_file(path, tf.io.encode_png(rgb_uint8))


def _load_model(model_path: str):
  """(colorize_lab signature, render size) of a --noguided_upsample export."""
  from colorizer.serving import colorize_lib  # pylint: disable=g-import-not-at-top
  try:
    _, loaded, metadata = colorize_lib.load_export(model_path)
  except ValueError as error:
    sys.exit(f"guided_filter_check: error: {error}")
  if metadata.get("guided_upsample", False) or "colorize_lab" not in (
      loaded.signatures):
    sys.exit("guided_filter_check: error: --model needs a grayscale model "
             "exported with --noguided_upsample.")
  return loaded.signatures["colorize_lab"], metadata["render_size"]


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  paths = sorted(glob.glob(_IMAGES.value))[:_NUM_IMAGES.value]
  if not paths:
    sys.exit(f"guided_filter_check: error: no files match {_IMAGES.value}")
  serve_lab, model_render_size = (_load_model(_MODEL.value) if _MODEL.value
                                  else (None, 0))
  methods = _methods()
  names = [name for name, _, _ in methods]
  per_image, sheet_rows = [], []
  if _OUTPUT_DIR.value:
    os.makedirs(_OUTPUT_DIR.value, exist_ok=True)
  for index, path in enumerate(paths):
    scores, outputs, rgb_uint8, halo = _score_photo(
        path, serve_lab, model_render_size, methods)
    per_image.append(scores)
    if _OUTPUT_DIR.value and index < _SHEET_IMAGES.value:
      sheet_rows.append(_sheet_row(rgb_uint8, outputs, halo, names))
      stem = os.path.splitext(os.path.basename(path))[0]
      _write_png(os.path.join(_OUTPUT_DIR.value, f"edges_{stem}.png"),
                 sheet_rows[-1])
    print(f"[{index + 1}/{len(paths)}] {os.path.basename(path)}: " + ", ".join(
        f"{name} {scores[name]['ciede2000']:.2f}" for name in names[:3]),
          file=sys.stderr, flush=True)
  source = (f"model {_MODEL.value}" if _MODEL.value else
            "the photos' own a*b* (a perfect network)")
  size = _RENDER_SIZE.value or model_render_size
  sizes = (f"render size {size}" if size else
           "render size a quarter of each photo's longer side")
  rows = _summary(per_image, names)
  print(_markdown(rows, f"{len(paths)} photos from {_IMAGES.value}, {source},"
                  f" {sizes}; gains against bilinear (CIEDE2000: lower is "
                  "better), 95% intervals paired over the photos."))
  if _OUTPUT_DIR.value:
    with open(os.path.join(_OUTPUT_DIR.value, "results.json"), "w") as f:
      json.dump({"images": _IMAGES.value, "num_images": len(paths),
                 "model": _MODEL.value, "render_size": size, "rows": rows},
                f, indent=2)
    if sheet_rows:
      width = max(row.shape[1] for row in sheet_rows)
      padded = [np.pad(row, ((0, 6), (0, width - row.shape[1]), (0, 0)),
                       constant_values=255) for row in sheet_rows]
      _write_png(os.path.join(_OUTPUT_DIR.value, "edges.png"),
                 np.concatenate(padded, axis=0))


if __name__ == "__main__":
  app.run(main)
