"""Reports of an evaluation: table, JSON, TensorBoard, contact sheet.

Everything here reads an evaluate_lib.EvalResult (duck-typed, to keep this
module free of the model-loading code) and writes it somewhere. Progress
lines come from colorizer.progress.
"""

import io
import json
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image
import tensorflow as tf

from colorizer.evaluation import metrics

METRICS_FILE = "metrics.json"
CONTACT_SHEET_FILE = "contact_sheet.png"
# The TensorBoard run, beside the training's train/ and eval/.
LOG_DIR = "eval_full"
# Contact sheet rows share one height: the tallest image's, kept between
# these bounds so 32 px CIFAR images stay visible and photos stay small.
MIN_ROW_HEIGHT = 96
MAX_ROW_HEIGHT = 256
_GAP = 4  # White pixels between panels and rows.

# Which way is better, for the "better?" column. Colorfulness has no good
# direction by itself (more is not better, the truth's is): delta_colorfulness
# judges it.
HIGHER_IS_BETTER = {
    "psnr": True, "ssim": True, "delta_e2000": False, "colorfulness": None,
    "colorfulness_true": None, "delta_colorfulness": False, "auc": True,
    "accuracy_2pct": True, "fid": False, "fd_mobilenet_v2": False,
}
_TABLE_ROWS = (  # (metric, label, format)
    ("psnr", "PSNR, dB (higher)", "{:.2f}"),
    ("ssim", "SSIM (higher)", "{:.4f}"),
    ("delta_e2000", "CIEDE2000 dE (lower)", "{:.2f}"),
    ("colorfulness", "colorfulness", "{:.2f}"),
    ("delta_colorfulness", "|colorfulness - truth| (lower)", "{:.2f}"),
    ("auc", "AuC, a*b* error 0-150 (higher)", "{:.4f}"),
    ("accuracy_2pct", "pixel accuracy at 2% (higher)", "{:.4f}"),
    ("fid", "FID (lower)", "{:.2f}"),
    ("fd_mobilenet_v2", "FD-MobileNetV2 (lower)", "{:.2f}"),
)
NOT_COMPUTED = "not computed"
# The frechet.Comparison fields that hold an Estimate, for the JSON report.
_FRECHET_ESTIMATES = ("model", "gray", "reduction_from_gray",
                      "model_split_half", "gray_split_half", "floor")


def default_output_dir(model_path: str = "", model_dir: str = "") -> str:
  """Where reports go: the model dir itself, or runs/eval/<name>_v<version>.

  A SavedModel's directory is never written to: TF Serving watches it.
  """
  if model_dir:
    return model_dir
  version_dir = os.path.normpath(model_path)
  version = os.path.basename(version_dir)
  name = os.path.basename(os.path.dirname(version_dir))
  if not version.isdigit():  # Not a version dir: use its own name.
    name, version = version, "latest"
  return os.path.join("runs", "eval", f"{name}_v{version}")


def better(name: str, model_value: Optional[float],
           gray_value: Optional[float]) -> Optional[str]:
  """"model", "gray baseline", "tie", or None where there is no direction."""
  direction = HIGHER_IS_BETTER.get(name)
  if direction is None or model_value is None or gray_value is None:
    return None
  if model_value == gray_value:
    return "tie"
  return "model" if (model_value > gray_value) == direction else "gray baseline"


def _cell(value: Optional[float], value_format: str) -> str:
  return NOT_COMPUTED if value is None else value_format.format(value)


def format_table(result) -> str:
  """The metric | model | gray baseline | better? table, with a heading.

  Args:
    result: an evaluate_lib.EvalResult.

  Returns:
    Multi-line text (no trailing newline).
  """
  info = result.info
  lines = []
  if info:
    lines.append(f"{result.num_images} images of {info.get('dataset')} "
                 f"({info.get('split')} split) at full resolution; model "
                 f"{info.get('model')} at step {info.get('step')}.")
  rows = [("metric", "model", "gray baseline", "better?")]
  for name, label, value_format in _TABLE_ROWS:
    if name == "colorfulness":
      label = f"colorfulness (truth {result.model['colorfulness_true']:.2f})"
    rows.append((label, _cell(result.model[name], value_format),
                 _cell(result.gray[name], value_format),
                 better(name, result.model[name], result.gray[name]) or "-"))
  widths = [max(len(row[column]) for row in rows) for column in range(4)]
  for row in rows:
    lines.append(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  "
                 f"{row[2]:>{widths[2]}}  {row[3]}".rstrip())
  for label, unit, (gain, half_width) in (
      ("PSNR gain over gray", " dB", result.psnr_gain),
      ("CIEDE2000 reduction from gray", "", result.delta_e_reduction)):
    if not math.isnan(half_width):
      lines.append(f"{label}: {gain:+.2f}{unit}, 95% interval "
                   f"{gain - half_width:+.2f} to {gain + half_width:+.2f} "
                   f"(paired per image).")
  categories = colorfulness_categories(result)
  mean, half_width = result.colorfulness_interval
  interval = ("" if math.isnan(half_width) else
              f" (95% interval {mean - half_width:.2f} to "
              f"{mean + half_width:.2f})")
  lines.append(f"Colorfulness on Hasler & Suesstrunk's scale: model "
               f"{categories['model']}{interval}, truth "
               f"{categories['truth']}.")
  for comparison in result.frechet_comparisons.values():
    lines.extend(frechet_lines(comparison))
  for metric, note in (("FID", result.fid_note),
                       ("FD-MobileNetV2", result.fd_note)):
    if note:
      lines.append(f"{metric}: {note}.")
  return "\n".join(lines)


def _estimate_text(estimate, value_format: str = "{:.2f}") -> str:
  low, value, high = (value_format.format(number) for number in
                      (estimate.low, estimate.value, estimate.high))
  return f"{value} ({low} to {high})"


def frechet_lines(comparison) -> List[str]:
  """A frechet.Comparison's values with their intervals, as text lines."""
  lines = []
  if comparison.model is not None:
    lines.append(
        f"{comparison.metric} over all {comparison.num_images} images, each "
        "output against its truth (lower; 95% bootstrap intervals, "
        f"{comparison.rounds} rounds): model "
        f"{_estimate_text(comparison.model)}, gray "
        f"{_estimate_text(comparison.gray)}; gray minus model "
        f"{_estimate_text(comparison.reduction_from_gray, '{:+.2f}')}, on "
        "the same resamples.")
  if comparison.floor is not None:
    half = comparison.num_images // 2
    lines.append(
        f"{comparison.metric} split-half, {half} outputs against the other "
        f"{half} truths: model {_estimate_text(comparison.model_split_half)}"
        f", gray {_estimate_text(comparison.gray_split_half)}, truth against "
        f"truth (the floor) {_estimate_text(comparison.floor)}.")
  return lines


def colorfulness_categories(result) -> Dict[str, str]:
  """{"model": ..., "truth": ...}: metrics.colorfulness_category of each."""
  return {"model": metrics.colorfulness_category(
              result.model["colorfulness"]),
          "truth": metrics.colorfulness_category(
              result.model["colorfulness_true"])}


def _json_number(value: float) -> Optional[float]:
  return None if math.isnan(value) else value


def _frechet_dict(comparison) -> Dict:
  """A frechet.Comparison for JSON: each distance as value and ci95."""
  report = {"metric": comparison.metric, "num_images": comparison.num_images,
            "bootstrap_rounds": comparison.rounds, "note": comparison.note}
  for name in _FRECHET_ESTIMATES:
    estimate = getattr(comparison, name)
    report[name] = estimate and {"value": estimate.value,
                                 "ci95": [estimate.low, estimate.high]}
  return report


def report_dict(result) -> Dict:
  """The JSON report: info, both metric sets, verdicts and notes.

  A Frechet distance (FID, FD-MobileNetV2) that was not computed is None
  (JSON null), never a number; one that was also gets its own entry, keyed
  like the metric, with its intervals, split-half values and floor.
  """
  return {
      **result.info,
      "num_images": result.num_images,
      "metrics": {"model": dict(result.model),
                  "gray_baseline": dict(result.gray)},
      "better": {name: better(name, result.model[name], result.gray[name])
                 for name in result.model},
      "psnr_gain_over_gray": _json_number(result.psnr_gain[0]),
      "psnr_gain_ci95_half_width": _json_number(result.psnr_gain[1]),
      "delta_e2000_reduction_from_gray": _json_number(
          result.delta_e_reduction[0]),
      "delta_e2000_reduction_ci95_half_width": _json_number(
          result.delta_e_reduction[1]),
      "colorfulness_ci95_half_width": _json_number(
          result.colorfulness_interval[1]),
      "colorfulness_category": colorfulness_categories(result),
      "fid_note": result.fid_note,
      "fd_note": result.fd_note,
      **{key: _frechet_dict(comparison)
         for key, comparison in result.frechet_comparisons.items()},
      "seconds": result.seconds,
      "images_per_sec": result.num_images / max(result.seconds, 1e-9),
  }


def _resize_to_height(rgb_uint8: np.ndarray, height: int) -> np.ndarray:
  if rgb_uint8.shape[0] == height:
    return rgb_uint8
  scale = height / rgb_uint8.shape[0]
  width = max(1, round(rgb_uint8.shape[1] * scale))
  # Nearest when enlarging shows the true pixels of small images instead of
  # blur that could pass for color bleeding.
  resample = Image.NEAREST if scale > 1 else Image.LANCZOS
  return np.asarray(Image.fromarray(rgb_uint8).resize((width, height),
                                                      resample))


def shrink_for_sheet(rgb_uint8: np.ndarray) -> np.ndarray:
  """An image no taller than MAX_ROW_HEIGHT, aspect kept, for the sheet."""
  if rgb_uint8.shape[0] <= MAX_ROW_HEIGHT:
    return rgb_uint8
  return _resize_to_height(rgb_uint8, MAX_ROW_HEIGHT)


def make_contact_sheet(
    rows: Sequence[Tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
  """One uint8 image with a gray | output | truth row per image.

  Images of different sizes are resized, for the sheet only, to a common row
  height (the tallest, clamped to [MIN_ROW_HEIGHT, MAX_ROW_HEIGHT]) with
  their aspect ratio; shorter rows are padded with white on the right.

  Args:
    rows: (gray, output, truth) uint8 [H, W, 3] triples, each of one size.

  Returns:
    uint8 [H_sheet, W_sheet, 3].

  Raises:
    ValueError: if rows is empty.
  """
  if not rows:
    raise ValueError("make_contact_sheet: no rows.")
  height = int(np.clip(max(row[0].shape[0] for row in rows), MIN_ROW_HEIGHT,
                       MAX_ROW_HEIGHT))
  strips: List[np.ndarray] = []
  for triple in rows:
    panels = [_resize_to_height(image, height) for image in triple]
    gap = np.full([height, _GAP, 3], 255, np.uint8)
    strips.append(np.concatenate([panels[0], gap, panels[1], gap, panels[2]],
                                 axis=1))
  width = max(strip.shape[1] for strip in strips)
  sheet = np.full([len(strips) * (height + _GAP) - _GAP, width, 3], 255,
                  np.uint8)
  for index, strip in enumerate(strips):
    top = index * (height + _GAP)
    sheet[top:top + height, :strip.shape[1]] = strip
  return sheet


def _write_bytes(path: str, payload: bytes) -> None:
  temp_path = path + ".tmp"
  with tf.io.gfile.GFile(temp_path, "wb") as f:
    f.write(payload)
  tf.io.gfile.rename(temp_path, path, overwrite=True)


def write_reports(result, output_dir: str, output_json: str
                  ) -> Dict[str, str]:
  """Writes the JSON report, the contact sheet and TensorBoard summaries.

  TensorBoard gets, at the model's step, eval_full/<metric> for the model and
  eval_full/gray/<metric> for the baseline (FID and FD-MobileNetV2 only when
  computed, with eval_full/<key>_split_half, eval_full/gray/<key>_split_half,
  eval_full/<key>_floor and eval_full/<key>_reduction_from_gray), and the
  contact sheet as the image
  eval_full/gray_output_truth.

  Args:
    result: an evaluate_lib.EvalResult with info["step"].
    output_dir: the contact sheet and the eval_full/ run go here.
    output_json: the JSON report's path.

  Returns:
    {"json": path, "tensorboard": dir, "contact_sheet": path (if any rows)}.
  """
  tf.io.gfile.makedirs(output_dir)
  paths = {"json": output_json,
           "tensorboard": os.path.join(output_dir, LOG_DIR)}
  sheet = None
  if result.contact_sheet_rows:
    sheet = make_contact_sheet(result.contact_sheet_rows)
    buffer = io.BytesIO()
    Image.fromarray(sheet).save(buffer, format="PNG")
    paths["contact_sheet"] = os.path.join(output_dir, CONTACT_SHEET_FILE)
    _write_bytes(paths["contact_sheet"], buffer.getvalue())
  report = dict(report_dict(result), contact_sheet=paths.get("contact_sheet"))
  json_dir = os.path.dirname(output_json)
  if json_dir:
    tf.io.gfile.makedirs(json_dir)
  _write_bytes(output_json, (json.dumps(report, indent=2) + "\n").encode())
  writer = tf.summary.create_file_writer(paths["tensorboard"])
  with writer.as_default(step=int(result.info.get("step", 0))):
    for prefix, values in ((LOG_DIR, result.model),
                           (f"{LOG_DIR}/gray", result.gray)):
      for name, value in values.items():
        if value is not None:
          tf.summary.scalar(f"{prefix}/{name}", value)
    for key, comparison in result.frechet_comparisons.items():
      for tag, estimate in (
          (f"{key}_split_half", comparison.model_split_half),
          (f"gray/{key}_split_half", comparison.gray_split_half),
          (f"{key}_floor", comparison.floor),
          (f"{key}_reduction_from_gray", comparison.reduction_from_gray)):
        if estimate is not None:
          tf.summary.scalar(f"{LOG_DIR}/{tag}", estimate.value)
    for name, (gain, _) in (
        ("psnr_gain_over_gray", result.psnr_gain),
        ("delta_e2000_reduction_from_gray", result.delta_e_reduction)):
      if not math.isnan(gain):
        tf.summary.scalar(f"{LOG_DIR}/{name}", gain)
    if sheet is not None:
      tf.summary.image(f"{LOG_DIR}/gray_output_truth", sheet[None],
                       max_outputs=1)
  writer.close()
  return paths
