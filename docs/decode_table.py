"""Tabulates colorizer-evaluate JSON reports of one model's decode settings.

  python -m docs.decode_table runs/cifar10/decode

reads every <dir>/*/metrics.json (one colorizer-evaluate run each, e.g. with
--decode_temperature and --decode_rebalance) and prints a Markdown table:
PSNR and CIEDE2000 against the gray baseline, colorfulness against the
truth. docs/results.md uses it to choose the cifar10 preset's decode.
"""

import glob
import json
import os
import sys


def rows(report_dir: str):
  """(temperature, rebalance, report) for each report, sorted."""
  found = []
  for path in glob.glob(os.path.join(report_dir, "*", "metrics.json")):
    with open(path) as f:
      report = json.load(f)
    found.append((report["decode_temperature"], report["decode_rebalance"],
                  report))
  return sorted(found, key=lambda row: row[:2])


def markdown(report_dir: str) -> str:
  lines = ["| T | rebalance | PSNR (gray) | ΔPSNR | CIEDE2000 (gray) | "
           "colorfulness (truth) | ΔCF |", "|---|---|---|---|---|---|---|"]
  for temperature, rebalance, report in rows(report_dir):
    model = report["metrics"]["model"]
    gray = report["metrics"]["gray_baseline"]
    lines.append(
        f"| {temperature:g} | {rebalance:g} | {model['psnr']:.2f} "
        f"({gray['psnr']:.2f}) | {model['psnr'] - gray['psnr']:+.2f} | "
        f"{model['delta_e2000']:.2f} ({gray['delta_e2000']:.2f}) | "
        f"{model['colorfulness']:.1f} ({model['colorfulness_true']:.1f}) | "
        f"{model['delta_colorfulness']:.1f} |")
  return "\n".join(lines)


if __name__ == "__main__":
  if len(sys.argv) != 2:
    sys.exit("usage: python -m docs.decode_table REPORT_DIR")
  print(markdown(sys.argv[1]))
