"""tools.decode_table: decode reports against gray, and the decode rule."""

import json

import pytest

from tools import decode_table


def _write_decode_report(report_dir, temperature, rebalance, psnr,
                         colorfulness=20.0, delta_e2000=9.0, saturation=None,
                         half_widths=None):
  """One decode's metrics.json against a gray baseline of PSNR 24.5 and
  CIEDE2000 10 (truth colorfulness 30). saturation None: a report from
  before --decode_saturation, which decoded without it; half_widths None: one
  from before the intervals, else their (PSNR gain, CIEDE2000 reduction,
  colorfulness) half-widths.
  """
  run_dir = report_dir / f"T{temperature}_B{rebalance}_S{saturation}"
  run_dir.mkdir()
  values = {"psnr": psnr, "delta_e2000": delta_e2000,
            "colorfulness": colorfulness, "colorfulness_true": 30.0,
            "delta_colorfulness": abs(colorfulness - 30.0)}
  gray = dict(values, psnr=24.5, delta_e2000=10.0, colorfulness=0.0,
              delta_colorfulness=30.0)
  report = {"decode_temperature": temperature, "decode_rebalance": rebalance,
            "metrics": {"model": values, "gray_baseline": gray}}
  if saturation is not None:
    report["decode_saturation"] = saturation
  if half_widths is not None:
    report.update(psnr_gain_over_gray=psnr - 24.5,
                  psnr_gain_ci95_half_width=half_widths[0],
                  delta_e2000_reduction_from_gray=10.0 - delta_e2000,
                  delta_e2000_reduction_ci95_half_width=half_widths[1],
                  colorfulness_ci95_half_width=half_widths[2])
  (run_dir / "metrics.json").write_text(json.dumps(report))


def test_decode_table_lists_each_report_against_gray_and_applies_the_rule(
    tmp_path):
  _write_decode_report(tmp_path, 1.0, 0.0, 25.0, colorfulness=18.0)
  _write_decode_report(tmp_path, 0.38, 1.5, 24.0, colorfulness=29.0)
  _write_decode_report(tmp_path, 0.38, 0.5, 25.2, colorfulness=22.0,
                       delta_e2000=10.5)  # Worse than gray on ΔE.
  _write_decode_report(tmp_path, 1.0, 0.0, 24.9, colorfulness=24.0,
                       saturation=1.5)  # Too close to gray.
  lines = decode_table.markdown(str(tmp_path)).splitlines()
  assert len(lines) == 10
  assert lines[2].startswith("| 0.38 | 0.5 | 1 | 25.20 (24.50) | +0.70 |")
  assert lines[3].startswith("| 0.38 | 1.5 | 1 | 24.00 (24.50) | -0.50 |")
  assert lines[4].startswith("| 1 | 0 | 1 | 25.00 (24.50) | +0.50 |")
  assert lines[5].startswith("| 1 | 0 | 1.5 | 24.90 (24.50) | +0.40 |")
  # Reports without intervals cannot show a clear lead: the rule picks none.
  assert lines[7].startswith("Rule (") and lines[7].endswith(
      ": no decode qualifies.")
  # The first rule: the only decode 0.5 dB above gray with a lower ΔE.
  assert lines[8].startswith("First rule (") and lines[8].endswith(
      ": T 1, rebalance 0, saturation 1.")


def test_decode_table_rule_needs_clear_gains_and_the_truth_s_colorfulness(
    tmp_path):
  # Truth colorfulness 30: "moderately colorful" from 24 to 39.
  for saturation, psnr, colorfulness, delta_e2000, half_widths in (
      (1.0, 25.5, 20.0, 9.0, (0.2, 0.2, 0.5)),  # Too dull.
      (1.25, 25.45, 24.4, 9.0, (0.2, 0.2, 0.5)),  # Interval reaches 23.9.
      (1.3, 25.2, 25.0, 9.0, (0.2, 0.2, 0.5)),  # Chosen.
      (1.5, 25.3, 26.0, 9.0, (0.9, 0.2, 0.5)),  # PSNR interval reaches 0.
      (1.75, 25.4, 27.0, 9.9, (0.2, 0.2, 0.5)),  # CIEDE2000's too.
      (2.0, 24.9, 29.0, 9.0, (0.2, 0.2, 0.5))):  # Less PSNR.
    _write_decode_report(tmp_path, 0.38, 0, psnr, colorfulness, delta_e2000,
                         saturation, half_widths)
  _write_decode_report(tmp_path, 1.0, 0, 26.0, 25.0, 9.0, 1.0)  # No intervals.
  found = decode_table.rows(str(tmp_path))
  assert [row[2] for row in found] == [1.0, 1.25, 1.3, 1.5, 1.75, 2.0, 1.0]
  assert [decode_table.confident(row) for row in found] == [
      True, True, True, False, False, True, False]
  assert [decode_table.in_truth_category(row) for row in found] == [
      False, False, True, True, True, True, False]
  assert decode_table.choose(found)[2] == 1.3
  lines = decode_table.markdown(str(tmp_path)).splitlines()
  # The chosen decode in bold, with its intervals; none where a report has
  # none.
  assert lines[4] == (
      "| **0.38** | **0** | **1.3** | **25.20 (24.50)** | **+0.70 ± 0.20** | "
      "**9.00 (10.00)** | **-1.00 ± 0.20** | **25.0 ± 0.5 (30.0)** | "
      "**5.0** |")
  assert lines[8] == ("| 1 | 0 | 1 | 26.00 (24.50) | +1.50 | 9.00 (10.00) | "
                      "-1.00 | 25.0 (30.0) | 5.0 |")
  assert lines[10].endswith(": T 0.38, rebalance 0, saturation 1.3.")
  # The first rule reads no intervals: 0.5 dB over gray and any ΔE below
  # gray's, then the smallest ΔCF.
  assert decode_table.choose_first_rule(found)[2] == 1.75


def test_decode_table_interpolates_psnr_at_fixed_colorfulness(tmp_path):
  for rebalance, colorfulness, psnr in ((0, 10, 26.0), (1, 20, 25.0),
                                        (2, 30, 24.0)):
    _write_decode_report(tmp_path, 0.38, rebalance, psnr, colorfulness)
  for rebalance, colorfulness in ((0, 12), (1, 22)):
    _write_decode_report(tmp_path, 1.0, rebalance, 25.2, colorfulness)
  found = decode_table.rows(str(tmp_path))
  at = lambda target: decode_table.psnr_at_colorfulness(found, target)
  assert at(15) == pytest.approx(25.5)  # The better curve: T 0.38.
  assert at(20) == pytest.approx(25.2)  # T 1 is better here.
  assert at(25) == pytest.approx(24.5)  # Only T 0.38 reaches it.
  assert at(35) is None
  assert decode_table.markdown(str(tmp_path)).splitlines()[-1] == (
      "PSNR at colorfulness 20: 25.20, 22.5: 24.75, 25: 24.50, 27.5: 24.25, "
      "30: 24.00.")
  # A saturation curve from the T 0.38, rebalance 0 decode beats both.
  _write_decode_report(tmp_path, 0.38, 0, 25.5, 30, saturation=2.0)
  found = decode_table.rows(str(tmp_path))
  assert decode_table.psnr_at_colorfulness(found, 20) == pytest.approx(25.75)
  assert decode_table.psnr_at_colorfulness(found, 30) == pytest.approx(25.5)
