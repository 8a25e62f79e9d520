"""Tabulates colorizer-evaluate JSON reports of one model's decode settings.

  python -m tools.decode_table runs/cifar10/decode

reads every <dir>/*/metrics.json (one colorizer-evaluate run each, e.g. with
--decode_temperature, --decode_rebalance and --decode_saturation) and
prints:

  * a Markdown table: PSNR and CIEDE2000 against the gray baseline,
    colorfulness against the truth, with the reports' 95% half-widths;
  * the decode the rule picks (RULE below) and the one the first rule,
    FIRST_RULE, picks (rounds 1 to 5 of docs/results.md chose by it);
  * the trade-off curve at fixed colorfulness: for each target, the best
    PSNR interpolated linearly between two decodes that differ in one
    setting only. It compares two trained runs (or two families of
    decodes) independently of where their decodes happen to fall.

docs/results.md uses it to choose the cifar10 preset's decode.
"""

import glob
import json
import os
import sys
from typing import Dict, List, Optional, Tuple

from colorizer.evaluation import metrics

# "Clearly beats gray" as a 95% interval above zero on both fidelity metrics,
# "colorfulness close to the truth's" as the same word on Hasler &
# Suesstrunk's scale for the whole 95% interval of the outputs' mean; then
# fidelity decides. Round 6 of docs/results.md.
RULE = ("among decodes whose PSNR gain and CIEDE2000 reduction over gray "
        "both have 95% intervals above zero and whose colorfulness's 95% "
        "interval lies in the truth's Hasler & Süsstrunk category, the "
        "highest PSNR")
FIRST_RULE = ("among decodes at least 0.5 dB above gray on PSNR and below it "
              "on CIEDE2000, the smallest ΔCF")
MIN_PSNR_GAIN = 0.5
COLORFULNESS_TARGETS = (20.0, 22.5, 25.0, 27.5, 30.0)

SETTINGS = ("decode_temperature", "decode_rebalance", "decode_saturation")
# Reports written before --decode_saturation existed decoded without it.
_DEFAULTS = {"decode_saturation": 1.0}

Row = Tuple[float, float, float, dict]  # temperature, rebalance, saturation.


def rows(report_dir: str) -> List[Row]:
  """(temperature, rebalance, saturation, report) per report, sorted."""
  found = []
  for path in glob.glob(os.path.join(report_dir, "*", "metrics.json")):
    with open(path) as f:
      report = json.load(f)
    found.append(tuple(report.get(name, _DEFAULTS.get(name))
                       for name in SETTINGS) + (report,))
  return sorted(found, key=lambda row: row[:3])


def _scores(report: dict) -> Tuple[dict, dict]:
  return report["metrics"]["model"], report["metrics"]["gray_baseline"]


# (gain, 95% half-width) keys of colorizer-evaluate's JSON report.
INTERVALS = (("psnr_gain_over_gray", "psnr_gain_ci95_half_width"),
             ("delta_e2000_reduction_from_gray",
              "delta_e2000_reduction_ci95_half_width"))


def confident(row: Row) -> bool:
  """True if the decode's PSNR gain and CIEDE2000 reduction over gray both
  have 95% intervals above zero (False for a report written before
  colorizer-evaluate gave them)."""
  report = row[-1]
  for gain_key, half_width_key in INTERVALS:
    gain, half_width = report.get(gain_key), report.get(half_width_key)
    if gain is None or half_width is None or gain - half_width <= 0:
      return False
  return True


def in_truth_category(row: Row) -> bool:
  """True if the whole 95% interval of the outputs' mean colorfulness rates
  as the truth's does on Hasler & Suesstrunk's scale
  (metrics.colorfulness_category); False for a report without the interval.
  """
  report = row[-1]
  model, _ = _scores(report)
  half_width = report.get("colorfulness_ci95_half_width")
  if half_width is None:
    return False
  truth = metrics.colorfulness_category(model["colorfulness_true"])
  return all(metrics.colorfulness_category(max(value, 0.0)) == truth
             for value in (model["colorfulness"] - half_width,
                           model["colorfulness"] + half_width))


def choose(found: List[Row]) -> Optional[Row]:
  """The row RULE picks, or None if no decode qualifies."""
  eligible = [row for row in found if confident(row) and in_truth_category(row)]
  if not eligible:
    return None
  return max(eligible, key=lambda row: _scores(row[-1])[0]["psnr"])


def choose_first_rule(found: List[Row]) -> Optional[Row]:
  """The row FIRST_RULE picks, or None if no decode clears the bar."""
  eligible = []
  for row in found:
    model, gray = _scores(row[-1])
    if (model["psnr"] - gray["psnr"] >= MIN_PSNR_GAIN and
        model["delta_e2000"] < gray["delta_e2000"]):
      eligible.append(row)
  if not eligible:
    return None
  return min(eligible,
             key=lambda row: _scores(row[-1])[0]["delta_colorfulness"])


def psnr_at_colorfulness(found: List[Row], target: float) -> Optional[float]:
  """Best PSNR at this colorfulness along any one setting's curves.

  A curve is the decodes that share all settings but one (e.g. one
  temperature and saturation, every rebalance), in colorfulness order.
  """
  curves: Dict[tuple, List[Tuple[float, float]]] = {}
  for row in found:
    model, _ = _scores(row[-1])
    for varied in range(len(SETTINGS)):
      fixed = (varied,) + row[:varied] + row[varied + 1:-1]
      curves.setdefault(fixed, []).append(
          (model["colorfulness"], model["psnr"]))
  best = None
  for points in curves.values():
    points.sort()
    for (cf_low, psnr_low), (cf_high, psnr_high) in zip(points, points[1:]):
      if cf_low <= target <= cf_high and cf_high > cf_low:
        fraction = (target - cf_low) / (cf_high - cf_low)
        psnr = psnr_low + fraction * (psnr_high - psnr_low)
        best = psnr if best is None else max(best, psnr)
  return best


def _plus_minus(report: dict, key: str, digits: int = 2) -> str:
  """" ± half-width" of a report's 95% interval, or "" for a report written
  before colorizer-evaluate gave it."""
  half_width = report.get(key)
  return "" if half_width is None else f" ± {half_width:.{digits}f}"


def markdown(report_dir: str) -> str:
  """The table (with 95% half-widths where the reports have them), both
  rules' choices and the PSNR-at-colorfulness curve."""
  found = rows(report_dir)
  chosen = choose(found)
  lines = ["| T | rebalance | saturation | PSNR (gray) | ΔPSNR | "
           "CIEDE2000 (gray) | ΔCIEDE2000 | colorfulness (truth) | ΔCF |",
           "|---|---|---|---|---|---|---|---|---|"]
  for row in found:
    temperature, rebalance, saturation, report = row
    model, gray = _scores(report)
    cells = [f"{temperature:g}", f"{rebalance:g}", f"{saturation:g}",
             f"{model['psnr']:.2f} ({gray['psnr']:.2f})",
             f"{model['psnr'] - gray['psnr']:+.2f}"
             + _plus_minus(report, "psnr_gain_ci95_half_width"),
             f"{model['delta_e2000']:.2f} ({gray['delta_e2000']:.2f})",
             f"{model['delta_e2000'] - gray['delta_e2000']:+.2f}"
             + _plus_minus(report, "delta_e2000_reduction_ci95_half_width"),
             f"{model['colorfulness']:.1f}"
             + _plus_minus(report, "colorfulness_ci95_half_width", 1)
             + f" ({model['colorfulness_true']:.1f})",
             f"{model['delta_colorfulness']:.1f}"]
    if row is chosen:
      cells = [f"**{cell}**" for cell in cells]
    lines.append("| " + " | ".join(cells) + " |")
  lines.append("")
  for label, rule, row in (("Rule", RULE, chosen),
                           ("First rule", FIRST_RULE,
                            choose_first_rule(found))):
    lines.append(f"{label} ({rule}): " + (
        "no decode qualifies." if row is None else
        f"T {row[0]:g}, rebalance {row[1]:g}, saturation {row[2]:g}."))
  curve = []
  for target in COLORFULNESS_TARGETS:
    psnr = psnr_at_colorfulness(found, target)
    curve.append(f"{target:g}: " + ("-" if psnr is None else f"{psnr:.2f}"))
  lines.append("PSNR at colorfulness " + ", ".join(curve) + ".")
  return "\n".join(lines)


if __name__ == "__main__":
  if len(sys.argv) != 2:
    sys.exit("usage: python -m tools.decode_table REPORT_DIR")
  print(markdown(sys.argv[1]))
