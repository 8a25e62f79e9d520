"""Tests for colorizer.evaluation.evaluate_lib, colorizer.evaluation.fid and the evaluate binary.

The tiny model of tests/evaluation/conftest.py, as a checkpoint and as its
export, is scored on a folder of generated images of different sizes and on
the demo scenes. The numbers are checked against
colorizer.evaluation.metrics called directly, and against a predictor that returns the
truth.
"""

import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from colorizer import color
from colorizer.evaluation import ab_accuracy
from colorizer.evaluation import eval_images
from colorizer.evaluation import evaluate_lib
from colorizer.evaluation import evaluate_report
from colorizer.evaluation import fid
from colorizer.evaluation import metrics
from colorizer import progress
from tests import conftest
from tests.evaluation.conftest import generated_photos
from tests.evaluation.conftest import IMAGE_SIZES

FLOAT_KEYS = ("psnr", "ssim", "delta_e2000", "colorfulness",
              "colorfulness_true", "delta_colorfulness", "auc",
              "accuracy_2pct")


def _true_ab_predictor(images):
  """A 'model' that returns each image's true a*b*, looked up by its L*."""
  table = {}
  for rgb_uint8 in images:
    lab = color.rgb_to_lab(color.rgb_uint8_to_float(rgb_uint8[None])).numpy()
    table[lab[..., :1].tobytes()] = lab[..., 1:]

  def predict_ab(l_star):
    return np.concatenate([table[l_star[index:index + 1].numpy().tobytes()]
                           for index in range(l_star.shape[0])])

  return predict_ab


def test_a_model_that_outputs_the_truth_scores_perfectly():
  images = generated_photos()
  result = evaluate_lib.score_images(_true_ab_predictor(images), images,
                                     batch_size=4)
  assert result.num_images == len(images)
  assert result.model["delta_e2000"] == pytest.approx(0.0, abs=1e-9)
  assert result.model["auc"] == pytest.approx(1.0)
  assert result.model["accuracy_2pct"] == 1.0
  # Lab -> sRGB of the truth's own Lab is exact to float32: PSNR hits the cap.
  assert result.model["psnr"] == pytest.approx(100.0)
  assert result.model["ssim"] == pytest.approx(1.0, abs=1e-6)
  assert result.model["delta_colorfulness"] == pytest.approx(0.0, abs=1e-3)
  assert result.gray["delta_e2000"] > 1.0 and result.gray["auc"] < 1.0
  assert [evaluate_report.better(name, result.model[name], result.gray[name])
          for name in ("psnr", "delta_e2000", "auc")] == ["model"] * 3


def test_gray_baseline_equals_colorizer_metrics_on_graygenerated_photos():
  images = generated_photos()
  seen_shapes = []

  def zero_ab(l_star):
    seen_shapes.append(tuple(l_star.shape))
    return tf.zeros(tuple(l_star.shape[:3]) + (2,))

  result = evaluate_lib.score_images(zero_ab, images, batch_size=2)
  # Full resolution: every image reaches the model at its own size, and
  # only equal sizes share a batch.
  assert seen_shapes == [(2, 40, 56, 1), (1, 33, 47, 1), (1, 64, 32, 1),
                         (1, 24, 24, 1), (1, 48, 40, 1)]
  # The same numbers, computed image by image with colorizer.evaluation.metrics.
  per_image = {"psnr": [], "ssim": [], "colorfulness": [],
               "colorfulness_true": []}
  delta_e, ab_gray, ab_true = [], [], []
  rgb_gray_pixels, rgb_true_pixels = [], []
  for rgb_uint8 in images:
    rgb_true = rgb_uint8[None].astype(np.float64) / 255.0
    lab_true = color.rgb_to_lab(color.rgb_uint8_to_float(rgb_uint8[None]))
    lab_gray = np.concatenate([lab_true[..., :1],
                               np.zeros_like(lab_true[..., 1:])], -1)
    rgb_gray = color.lab_to_rgb(lab_gray).numpy()
    per_image["psnr"].append(metrics.psnr(rgb_gray, rgb_true)[0])
    per_image["ssim"].append(metrics.ssim(rgb_gray, rgb_true)[0])
    per_image["colorfulness"].append(metrics.colorfulness(rgb_gray)[0])
    per_image["colorfulness_true"].append(
        metrics.colorfulness(rgb_uint8[None])[0])
    delta_e.append(metrics.ciede2000(lab_gray, lab_true.numpy()).ravel())
    ab_gray.append(lab_gray[..., 1:].reshape(-1, 2))
    ab_true.append(lab_true.numpy()[..., 1:].reshape(-1, 2))
    rgb_gray_pixels.append(rgb_gray.reshape(-1, 3))
    rgb_true_pixels.append(rgb_true.reshape(-1, 3))
  expected = {name: np.mean(values) for name, values in per_image.items()}
  expected["delta_colorfulness"] = abs(expected["colorfulness"] -
                                       expected["colorfulness_true"])
  expected["delta_e2000"] = np.concatenate(delta_e).mean()
  expected["auc"] = ab_accuracy.ab_error_auc(np.concatenate(ab_gray),
                                             np.concatenate(ab_true))
  expected["accuracy_2pct"] = ab_accuracy.pixel_accuracy(
      np.concatenate(rgb_gray_pixels), np.concatenate(rgb_true_pixels))
  for name in FLOAT_KEYS:
    assert result.gray[name] == pytest.approx(expected[name], rel=1e-6), name
  # The model here is gray too: both columns agree.
  for name in FLOAT_KEYS:
    assert result.model[name] == pytest.approx(result.gray[name], rel=1e-6)
  assert result.model["fid"] is None and result.gray["fid"] is None
  assert result.fid_note.startswith("not computed")


def _check_all_metrics(values):
  assert set(values) == set(FLOAT_KEYS) | {"fid", "fd_mobilenet_v2"}
  for name in FLOAT_KEYS:
    assert np.isfinite(values[name]), name


def test_saved_model_on_a_folder_of_different_sizes(saved_model, image_folder,
                                                    monkeypatch, tmp_path):
  def offline(weights):
    raise fid.InceptionUnavailableError(f"{weights}: name resolution failed")

  # --fid_weights=imagenet without a network: FID is null, never a number.
  monkeypatch.setattr(fid, "build_inception", offline)
  output_dir = str(tmp_path / "out")
  result, paths = evaluate_lib.evaluate(
      model_path=saved_model, dataset=f"folder:{image_folder}", split="all",
      output_dir=output_dir, contact_sheet_images=3, fid_weights="imagenet",
      progress_stream=None)
  assert result.num_images == len(IMAGE_SIZES)
  _check_all_metrics(result.model)
  _check_all_metrics(result.gray)
  assert result.info["model"] == os.path.join(saved_model, "1")
  assert result.info["step"] == 2
  with open(paths["json"]) as f:
    report = json.load(f)
  assert report["metrics"]["model"]["fid"] is None
  assert report["metrics"]["gray_baseline"]["fid"] is None
  assert report["fid_note"].startswith("not computed: imagenet")
  assert report["num_images"] == len(IMAGE_SIZES)
  # The mean per-image gain over gray is the gap between the means; its
  # interval comes from the per-image differences.
  gain, half_width = result.psnr_gain
  assert gain == pytest.approx(result.model["psnr"] - result.gray["psnr"])
  assert half_width > 0
  assert report["psnr_gain_over_gray"] == pytest.approx(gain)
  assert report["psnr_gain_ci95_half_width"] == pytest.approx(half_width)
  assert (f"PSNR gain over gray: {gain:+.2f} dB, 95% interval "
          f"{gain - half_width:+.2f} to {gain + half_width:+.2f} (paired per "
          "image).") in evaluate_report.format_table(result).splitlines()
  # The CIEDE2000 reduction pools pixels, as delta_e2000 does, so its mean
  # is the gap between the pooled values even with images of mixed sizes.
  reduction, reduction_half_width = result.delta_e_reduction
  assert reduction == pytest.approx(
      result.gray["delta_e2000"] - result.model["delta_e2000"])
  assert reduction_half_width > 0
  assert report["delta_e2000_reduction_from_gray"] == pytest.approx(reduction)
  assert report["delta_e2000_reduction_ci95_half_width"] == pytest.approx(
      reduction_half_width)
  assert (f"CIEDE2000 reduction from gray: {reduction:+.2f}, 95% interval "
          f"{reduction - reduction_half_width:+.2f} to "
          f"{reduction + reduction_half_width:+.2f} (paired per image).") in (
              evaluate_report.format_table(result).splitlines())
  colorfulness, colorfulness_half_width = result.colorfulness_interval
  assert colorfulness == pytest.approx(result.model["colorfulness"])
  assert report["colorfulness_ci95_half_width"] == pytest.approx(
      colorfulness_half_width) and colorfulness_half_width > 0
  assert report["colorfulness_category"] == {
      "model": metrics.colorfulness_category(result.model["colorfulness"]),
      "truth": metrics.colorfulness_category(
          result.model["colorfulness_true"])}
  sheet = np.asarray(Image.open(paths["contact_sheet"]))
  row_height = evaluate_report.MIN_ROW_HEIGHT  # The tallest image is 64 px.
  assert sheet.shape[0] == 3 * row_height + 2 * 4
  events = conftest.summary_events(paths["tensorboard"])
  assert events["eval_full/psnr"] == [(2, pytest.approx(result.model["psnr"]))]
  assert events["eval_full/psnr_gain_over_gray"] == [(2, pytest.approx(gain))]
  assert events["eval_full/delta_e2000_reduction_from_gray"] == [
      (2, pytest.approx(reduction))]
  assert events["eval_full/gray/delta_e2000"] == [
      (2, pytest.approx(result.gray["delta_e2000"]))]
  assert "eval_full/fid" not in events
  assert "eval_full/gray_output_truth" in events


def test_the_checkpoint_and_its_savedmodel_score_the_same(
    trained_model_dir, saved_model, tmp_path):
  from_dir, _ = evaluate_lib.evaluate(
      model_dir=trained_model_dir, num_images=6, progress_stream=None)
  assert from_dir.info["step"] == 2 and from_dir.info["dataset"] == "demo"
  assert from_dir.num_images == 6
  _check_all_metrics(from_dir.model)
  # Reports default to the model dir, beside train/ and eval/.
  assert os.path.exists(os.path.join(trained_model_dir, "metrics.json"))
  assert os.path.isdir(os.path.join(trained_model_dir, "eval_full"))
  # The SavedModel's colorize_lab signature gives the same numbers on the
  # same (demo validation) images.
  from_export, _ = evaluate_lib.evaluate(
      model_path=saved_model, num_images=6, output_dir=str(tmp_path),
      progress_stream=None)
  assert from_export.info["dataset"] == "demo"
  for name in FLOAT_KEYS:
    assert from_export.model[name] == pytest.approx(from_dir.model[name],
                                                    rel=1e-3, abs=1e-3), name
    assert from_export.gray[name] == from_dir.gray[name]


def _mean_color_features(rgb):
  """A stand-in for Inception: per-image channel means and deviations."""
  rgb = np.asarray(rgb, np.float64)
  return np.concatenate([rgb.mean(axis=(1, 2)), rgb.std(axis=(1, 2))], -1)


def test_fid_plumbing_with_a_stand_in_feature_model():
  images = generated_photos()
  perfect = evaluate_lib.score_images(_true_ab_predictor(images), images,
                                      feature_fn=_mean_color_features)
  assert perfect.model["fid"] == pytest.approx(0.0, abs=1e-6)
  assert perfect.gray["fid"] > 1e-3
  # The caveat is for fewer images than feature dimensions: 6 and 6 here.
  assert perfect.fid_note == ""
  one = evaluate_lib.score_images(_true_ab_predictor(images), images[:1],
                                  feature_fn=_mean_color_features)
  assert one.model["fid"] is None and one.gray["fid"] is None
  assert "at least 2 images" in one.fid_note


def test_a_missing_fid_weights_file_stops_before_any_work(tmp_path):
  with pytest.raises(ValueError, match="no such file"):
    evaluate_lib.evaluate(model_path=str(tmp_path / "no_model"),
                          fid_weights=str(tmp_path / "missing.h5"))


def test_fid_with_a_real_inception_v3_weights_file(saved_model, tmp_path):
  """The real Inception-v3 (random weights, saved by the test): ~10 s on CPU."""
  import keras  # pylint: disable=g-import-not-at-top
  weights_path = str(tmp_path / "inception.weights.h5")
  keras.applications.InceptionV3(include_top=False, pooling="avg",
                                 weights=None).save_weights(weights_path)
  result, _ = evaluate_lib.evaluate(
      model_path=saved_model, num_images=4, fid_weights=weights_path,
      output_dir=str(tmp_path / "out"), progress_stream=None)
  assert np.isfinite(result.model["fid"]) and result.model["fid"] >= 0.0
  assert np.isfinite(result.gray["fid"])
  assert "only 4 images" in result.fid_note


def test_batches_keep_order_and_split_on_size_count_and_pixels():
  images = [np.full([10, 10, 3], index, np.uint8) for index in range(5)]
  images.insert(2, np.zeros([10, 12, 3], np.uint8))
  batches = list(eval_images.batches_by_size(images, batch_size=2,
                                              max_pixels=1000))
  assert [batch.shape[:3] for batch in batches] == [
      (2, 10, 10), (1, 10, 12), (2, 10, 10), (1, 10, 10)]
  assert [int(image[0, 0, 0]) for batch in batches for image in batch] == [
      0, 1, 0, 2, 3, 4]
  budget = list(eval_images.batches_by_size(images[3:], batch_size=8,
                                             max_pixels=250))
  assert [len(batch) for batch in budget] == [2, 1]


def test_make_contact_sheet_brings_rows_to_one_height():
  small = np.zeros([20, 30, 3], np.uint8)
  tall = np.full([300, 100, 3], 128, np.uint8)
  sheet = evaluate_report.make_contact_sheet([(small,) * 3, (tall,) * 3])
  height = evaluate_report.MAX_ROW_HEIGHT  # The tallest, clamped.
  # The small image's row, enlarged to that height, is the widest.
  assert sheet.shape == (2 * height + 4, 3 * (30 * height // 20) + 8, 3)
  with pytest.raises(ValueError):
    evaluate_report.make_contact_sheet([])


def test_progress_log_shows_count_rate_and_eta():
  now = [0.0]
  lines = []

  class Stream:
    write = lines.append
    flush = staticmethod(lambda: None)

  log = progress.ProgressLog(100, Stream(), interval_s=10.0,
                             clock=lambda: now[0])
  now[0] = 5.0
  log.advance(10)
  assert not lines  # Not due yet.
  now[0] = 10.0
  log.advance(10)
  assert lines[-1].strip() == ("evaluated 20/100 images (20%) | 2.0 img/s | "
                               "elapsed 0:10 | ETA 0:40")
  unknown = progress.ProgressLog(None, Stream(), clock=lambda: now[0])
  unknown.advance(3)
  unknown.finish()
  assert lines[-1].startswith("evaluated 3 images |")


def test_default_output_dir_never_writes_into_a_savedmodel():
  assert evaluate_report.default_output_dir(
      model_dir="runs/demo") == "runs/demo"
  assert evaluate_report.default_output_dir(
      "savedmodels/demo/3") == os.path.join("runs", "eval", "demo_v3")


def test_argument_errors(saved_model, trained_model_dir):
  with pytest.raises(ValueError, match="exactly one"):
    evaluate_lib.evaluate()
  with pytest.raises(ValueError, match="exactly one"):
    evaluate_lib.evaluate(model_path=saved_model, model_dir=trained_model_dir)
  with pytest.raises(ValueError, match="--split"):
    evaluate_lib.evaluate(model_path=saved_model, split="test")
  with pytest.raises(ValueError, match="--dataset"):
    evaluate_lib.evaluate(model_path=saved_model, dataset="nonsense:x")


def test_binary_end_to_end(saved_model, image_folder, tmp_path):
  output_dir = tmp_path / "report"
  result = subprocess.run(
      [sys.executable, "-m", "pipelines.evaluate", f"--model={saved_model}",
       f"--dataset=folder:{image_folder}", "--split=all",
       f"--output_dir={output_dir}", "--contact_sheet_images=2"],
      capture_output=True, text=True, timeout=300, cwd=conftest.REPO_ROOT,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert result.returncode == 0, result.stderr[-3000:]
  header = next(line for line in result.stdout.splitlines()
                if line.startswith("metric"))
  assert header.split() == ["metric", "model", "gray", "baseline", "better?"]
  assert "CIEDE2000" in result.stdout and "not computed" in result.stdout
  assert "evaluated 6/6 images" in result.stderr
  with open(output_dir / "metrics.json") as f:
    assert json.load(f)["num_images"] == len(IMAGE_SIZES)
  assert (output_dir / "contact_sheet.png").exists()


def test_black_and_white_truths_are_left_out_and_counted(saved_model,
                                                         tmp_path):
  folder = tmp_path / "mixed"
  folder.mkdir()
  photos = generated_photos()[:3]
  for index, rgb_uint8 in enumerate(photos):
    Image.fromarray(rgb_uint8).save(folder / f"color_{index}.png")
    gray = np.repeat(rgb_uint8.mean(-1, keepdims=True), 3, -1)
    Image.fromarray(gray.astype(np.uint8)).save(folder / f"gray_{index}.png")
  kept, _ = evaluate_lib.evaluate(
      model_path=saved_model, dataset=f"folder:{folder}", split="all",
      output_dir=str(tmp_path / "kept"), progress_stream=None)
  assert kept.num_images == 3
  assert kept.info["grayscale_images_left_out"] == 3
  assert np.isfinite(kept.gray["psnr"])
  every, _ = evaluate_lib.evaluate(
      model_path=saved_model, dataset=f"folder:{folder}", split="all",
      output_dir=str(tmp_path / "all"), skip_grayscale=False,
      progress_stream=None)
  assert every.num_images == 6
  # A gray truth is the gray baseline itself: its PSNR hits the 100 dB cap.
  assert every.gray["psnr"] > kept.gray["psnr"] + 20
  # --num_images counts the images kept.
  two, _ = evaluate_lib.evaluate(
      model_path=saved_model, dataset=f"folder:{folder}", split="all",
      num_images=2, output_dir=str(tmp_path / "two"), progress_stream=None)
  assert two.num_images == 2
