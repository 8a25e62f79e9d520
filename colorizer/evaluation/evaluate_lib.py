"""Full-resolution evaluation of a colorizer against the grayscale baseline.

The model is scored the way it is used: each validation image keeps its own
size, its L* goes through the full-resolution path (the network at its render
size, a*b* resized back and gamut-clamped, joined with the untouched L*), and
the result is compared with the untouched ground truth. The grayscale baseline
(a* = b* = 0 with the same L*) is scored on the same images, side by side,
because a colorizer that is not better than gray has learned nothing.

The model is an export or a training model dir, loaded alike
(colorizer.evaluation.scored_models). Metrics come from
colorizer.evaluation.metrics (see its docstrings for the formulas);
FD-MobileNetV2 and FID from colorizer.evaluation.frechet when the network's
weights are given (--fd_weights, --fid_weights). Reports (table, JSON,
TensorBoard, contact sheet) live in colorizer.evaluation.evaluate_report.
"""

import dataclasses
import os
import sys
import time
from typing import Any, Dict, Iterable, List, Optional, TextIO, Tuple

from absl import logging
import numpy as np
import tensorflow as tf

from colorizer import color
from colorizer import config as config_lib
from colorizer.data import image_sources
from colorizer.evaluation import eval_images
from colorizer.evaluation import evaluate_report
from colorizer.evaluation import fid
from colorizer.evaluation import frechet
from colorizer.evaluation import metrics
from colorizer.evaluation import scored_models
from colorizer.evaluation import stats
from colorizer import progress as progress_lib

DEFAULT_BATCH_SIZE = 16
NO_FID_WEIGHTS_NOTE = ("not computed: no --fid_weights given (a Keras "
                       "Inception-v3 weights file, or 'imagenet')")
NO_FD_WEIGHTS_NOTE = ("not computed: no --fd_weights given (the Keras "
                      "MobileNetV2 weights file, docs/evaluate.md)")

@dataclasses.dataclass
class EvalResult:
  """Metrics of the model and of the gray baseline over the same images.

  Attributes:
    model: {metric name: value}; keys are metrics.MetricAccumulator's result
      keys (without num_images) plus "fid" and "fd_mobilenet_v2" (the
      Frechet distances over all images), None when not computed.
    gray: the same for the grayscale baseline (a*b* = 0).
    num_images: images scored.
    fid_note: why FID is None, or a caveat about it; empty otherwise.
    contact_sheet_rows: (gray, output, truth) uint8 [H, W, 3] triples of the
      first images, for the contact sheet.
    seconds: wall time of the scoring loop.
    info: what was evaluated (model, step, dataset, split, ...), for reports.
    psnr_gain: (mean, 95 % half-width) of the model's per-image PSNR minus
      the gray baseline's on the same image, in dB
      (stats.paired_mean_difference); the half-width is NaN below 2 images.
    delta_e_reduction: the same for the gray baseline's CIEDE2000 minus the
      model's (positive: the model's colors are closer), each image weighing
      by its pixel count as in the pooled delta_e2000.
    colorfulness_interval: (mean, 95 % half-width) of the outputs' per-image
      colorfulness (stats.mean_interval).
    frechet_comparisons: {"fd_mobilenet_v2" or "fid": frechet.Comparison}
      for each Frechet distance computed: intervals, split-half values and
      floor.
    fd_note: why FD-MobileNetV2 is missing, or a caveat; empty otherwise.
  """
  model: Dict[str, Optional[float]]
  gray: Dict[str, Optional[float]]
  num_images: int
  fid_note: str = ""
  contact_sheet_rows: List[Tuple[np.ndarray, np.ndarray, np.ndarray]] = (
      dataclasses.field(default_factory=list))
  seconds: float = 0.0
  info: Dict[str, Any] = dataclasses.field(default_factory=dict)
  psnr_gain: Tuple[float, float] = (float("nan"), float("nan"))
  delta_e_reduction: Tuple[float, float] = (float("nan"), float("nan"))
  colorfulness_interval: Tuple[float, float] = (float("nan"), float("nan"))
  frechet_comparisons: Dict[str, frechet.Comparison] = dataclasses.field(
      default_factory=dict)
  fd_note: str = ""


def _metric_values(accumulator: metrics.MetricAccumulator
                   ) -> Dict[str, Optional[float]]:
  values = accumulator.result()
  values.pop("num_images")
  return {name: float(value) for name, value in values.items()}


def score_images(predict_ab: scored_models.PredictAbFn,
                 images: Iterable[np.ndarray],
                 feature_fn: Optional[frechet.FeatureFn] = None,
                 fid_note: str = NO_FID_WEIGHTS_NOTE,
                 batch_size: int = DEFAULT_BATCH_SIZE,
                 contact_sheet_images: int = 8, total: Optional[int] = None,
                 progress_stream: Optional[TextIO] = None,
                 fd_feature_fn: Optional[frechet.FeatureFn] = None,
                 fd_note: str = NO_FD_WEIGHTS_NOTE,
                 bootstrap_rounds: int = frechet.DEFAULT_BOOTSTRAP_ROUNDS
                 ) -> EvalResult:
  """Scores a colorizer and the gray baseline on images at their own size.

  For each image: its L* (CIE L*a*b* of the uint8 sRGB truth) goes to
  predict_ab; the prediction is L* joined with the predicted a*b*, the
  baseline L* with a*b* = 0. PSNR, SSIM, colorfulness and 2 % accuracy are
  taken on sRGB (the Lab images converted back), CIEDE2000 and the a*b* AuC
  on Lab, all against the untouched truth.

  Args:
    predict_ab: l_star float32 [B, H, W, 1] -> a*b* float32 [B, H, W, 2].
    images: uint8 [H, W, 3] sRGB images of any sizes.
    feature_fn: FID features of sRGB [B, H, W, 3] in [0, 1]; None skips FID.
    fid_note: the reason FID is missing, used when feature_fn is None.
    batch_size: most images per predict_ab call (equal sizes only).
    contact_sheet_images: how many (gray, output, truth) triples to keep.
    total: the number of images, for the ETA (None if unknown).
    progress_stream: where progress lines go (None: nowhere).
    fd_feature_fn: FD-MobileNetV2 features, likewise; None skips it.
    fd_note: the reason FD-MobileNetV2 is missing, when fd_feature_fn is None.
    bootstrap_rounds: rounds of the Frechet distances' intervals.

  Returns:
    An EvalResult (its info is left empty).

  Raises:
    ValueError: if there are no images, or batch_size < 1.
  """
  if batch_size < 1:
    raise ValueError(f"--batch_size={batch_size}: must be >= 1.")
  model_metrics, gray_metrics = (metrics.MetricAccumulator(),
                                 metrics.MetricAccumulator())
  # The same images' outputs, gray versions and truths, per distance.
  frechet_extractors = ((fid.INCEPTION_V3, feature_fn, fid_note),
                        (frechet.MOBILENET_V2, fd_feature_fn, fd_note))
  feature_sets = {extractor.key: frechet.FeatureSets(function)
                  for extractor, function, _ in frechet_extractors
                  if function is not None}
  sheet_rows = []
  progress = progress_lib.ProgressLog(total, progress_stream)
  start = time.perf_counter()
  for rgb_uint8 in eval_images.batches_by_size(images, batch_size):
    rgb_true = color.rgb_uint8_to_float(rgb_uint8)  # [B, H, W, 3]
    lab_true = color.rgb_to_lab(rgb_true)  # [B, H, W, 3]
    l_star = lab_true[..., :1]  # [B, H, W, 1]
    ab_fake = tf.cast(predict_ab(l_star), tf.float32)  # [B, H, W, 2]
    lab_fake = tf.concat([l_star, ab_fake], axis=-1)
    lab_gray = tf.concat([l_star, tf.zeros_like(ab_fake)], axis=-1)
    rgb_fake, rgb_gray = color.lab_to_rgb(lab_fake), color.lab_to_rgb(lab_gray)
    model_metrics.update(rgb_fake.numpy(), rgb_true.numpy(), lab_fake.numpy(),
                         lab_true.numpy())
    gray_metrics.update(rgb_gray.numpy(), rgb_true.numpy(), lab_gray.numpy(),
                        lab_true.numpy())
    for sets in feature_sets.values():
      sets.add(model=rgb_fake, gray=rgb_gray, truth=rgb_true)
    for index in range(min(len(rgb_uint8),
                           contact_sheet_images - len(sheet_rows))):
      # Shrunk now, not at the end: full-size photos would be held meanwhile.
      triple = (color.rgb_float_to_uint8(rgb_gray[index]).numpy(),
                color.rgb_float_to_uint8(rgb_fake[index]).numpy(),
                rgb_uint8[index])
      sheet_rows.append(tuple(evaluate_report.shrink_for_sheet(image)
                              for image in triple))
    progress.advance(len(rgb_uint8))
  progress.finish()
  if model_metrics.num_images == 0:
    raise ValueError("No images to evaluate: the split is empty (or every "
                     "file was unreadable).")
  result = EvalResult(model=_metric_values(model_metrics),
                      gray=_metric_values(gray_metrics),
                      num_images=model_metrics.num_images,
                      contact_sheet_rows=sheet_rows,
                      seconds=time.perf_counter() - start,
                      psnr_gain=stats.paired_mean_difference(
                          model_metrics.psnr_values(),
                          gray_metrics.psnr_values()),
                      delta_e_reduction=stats.paired_mean_difference(
                          gray_metrics.delta_e_values(),
                          model_metrics.delta_e_values(),
                          weights=model_metrics.pixel_counts()),
                      colorfulness_interval=stats.mean_interval(
                          model_metrics.colorfulness_values()))
  notes = {}
  for extractor, _, note in frechet_extractors:
    result.model[extractor.key] = result.gray[extractor.key] = None
    notes[extractor.key] = note
    if extractor.key in feature_sets:
      comparison = feature_sets[extractor.key].compare(extractor.metric,
                                                       bootstrap_rounds)
      result.frechet_comparisons[extractor.key] = comparison
      notes[extractor.key] = comparison.note
      for values, estimate in ((result.model, comparison.model),
                               (result.gray, comparison.gray)):
        values[extractor.key] = estimate and estimate.value
  result.fid_note = notes[fid.INCEPTION_V3.key]
  result.fd_note = notes[frechet.MOBILENET_V2.key]
  return result


def evaluate(model_path: str = "", model_dir: str = "", dataset: str = "",
             data_dir: str = "", split: str = "val", num_images: int = 0,
             output_dir: str = "", output_json: str = "",
             fid_weights: str = "", contact_sheet_images: int = 8,
             batch_size: int = DEFAULT_BATCH_SIZE,
             overrides: config_lib.InferenceOverrides = (
                 config_lib.InferenceOverrides()),
             skip_grayscale: bool = True,
             image_offset: int = 0,
             image_stride: int = 1,
             render_size: int = 0,
             progress_stream: Optional[TextIO] = sys.stderr,
             fd_weights: str = "",
             bootstrap_rounds: int = frechet.DEFAULT_BOOTSTRAP_ROUNDS
             ) -> Tuple[EvalResult, Dict[str, str]]:
  """Evaluates a SavedModel or a model dir and writes every report.

  Args:
    model_path: an exported SavedModel (version dir or model base dir).
    model_dir: a training model dir; exactly one of the two.
    dataset: a --dataset source; default the one the model was trained on
      (for model_path, only when that is demo or TFDS: recorded_dataset).
    data_dir: TFDS data_dir; default model_dir's, or TFDS's own for
      model_path.
    split: val, train or all (see evaluation_images).
    num_images: the first this many images; 0 for the whole split.
    output_dir: reports go here; default
      evaluate_report.default_output_dir().
    output_json: the JSON report; default <output_dir>/metrics.json.
    fid_weights: Inception-v3 weights file, "imagenet", or "" for no FID.
    contact_sheet_images: rows of the contact sheet (0: none).
    batch_size: most images per model call.
    overrides: with model_dir, the decode settings and test-time flipping
      to score instead of the run's own (config.InferenceOverrides).
    skip_grayscale: leave images without color out (GrayscaleFilter); then
      num_images counts the images kept.
    image_offset: skip the split's first images (evaluation_images).
    image_stride: then score every this-many-th image (evaluation_images).
    render_size: with model_dir, run the network at this size instead of
      its export's (0), to choose an export's render size.
    progress_stream: where progress lines go.
    fd_weights: MobileNetV2 weights file for FD-MobileNetV2, or "" for none.
    bootstrap_rounds: rounds of the Frechet distances' intervals, >= 1.

  Returns:
    (result, paths): the EvalResult (with info filled in) and the written
    report paths by kind ("json", "contact_sheet", "tensorboard").

  Raises:
    ValueError: for bad arguments, models, data sources or weights files.
  """
  if bool(model_path) == bool(model_dir):
    raise ValueError("Give exactly one of --model (an exported SavedModel) "
                     "and --model_dir (a training model dir).")
  if num_images < 0 or contact_sheet_images < 0 or image_offset < 0:
    raise ValueError("--num_images, --image_offset and "
                     "--contact_sheet_images must be >= 0.")
  if batch_size < 1:
    raise ValueError(f"--batch_size={batch_size}: must be >= 1.")
  if split not in eval_images.SPLITS:
    raise ValueError(f"--split={split}: expected one of "
                     f"{', '.join(eval_images.SPLITS)}.")
  if model_path and overrides.given():
    raise ValueError(f"--{', --'.join(overrides.given())} need --model_dir: "
                     "an export runs as it was exported (colorizer-export "
                     "takes the same flags).")
  if model_path and render_size:
    raise ValueError("--render_size needs --model_dir: an export's "
                     "colorize_lab signature renders at its exported size "
                     "(colorizer-export --render_size).")
  if dataset:
    image_sources.parse_dataset_spec(dataset)
  if fid_weights:
    fid.check_weights(fid_weights)
  if bootstrap_rounds < 1:
    raise ValueError(f"--bootstrap_rounds={bootstrap_rounds}: must be >= 1.")
  fd_feature_fn = None
  if fd_weights:  # A local file, loaded in seconds: a wrong one fails first.
    fd_feature_fn = frechet.make_feature_fn(
        frechet.load_feature_model(frechet.MOBILENET_V2, fd_weights),
        frechet.MOBILENET_V2)
  if model_path and not dataset:
    dataset = scored_models.recorded_dataset(model_path)
  loaded = (scored_models.load_saved_model(model_path) if model_path
            else scored_models.load_model_dir(
                model_dir, overrides=overrides, render_size=render_size))
  # After the model: a bad --model should not wait for a 90 MB download.
  feature_fn, fid_note = None, NO_FID_WEIGHTS_NOTE
  if fid_weights:
    try:
      feature_fn = frechet.make_feature_fn(fid.build_inception(fid_weights),
                                           fid.INCEPTION_V3)
    except fid.InceptionUnavailableError as error:
      fid_note = f"not computed: {error}"
      logging.warning("FID %s", fid_note)
  # An export's data_dir, like its folders, is a path on the machine that
  # trained it: TFDS's default unless --data_dir says otherwise.
  data_config = dataclasses.replace(
      loaded.config.data, dataset=dataset or loaded.config.data.dataset,
      data_dir=data_dir or ("" if model_path else loaded.config.data.data_dir))
  grayscale = eval_images.GrayscaleFilter()
  if skip_grayscale:
    images, total, skipped = eval_images.evaluation_images(
        data_config, split, 0, loaded.config.train.seed, image_offset,
        image_stride)
    images = grayscale(images, num_images)
    total = num_images or total  # An upper bound: gray ones are left out.
  else:
    images, total, skipped = eval_images.evaluation_images(
        data_config, split, num_images, loaded.config.train.seed,
        image_offset, image_stride)
  result = score_images(loaded.predict_ab, images, feature_fn=feature_fn,
                        fid_note=fid_note, batch_size=batch_size,
                        contact_sheet_images=contact_sheet_images,
                        total=total, progress_stream=progress_stream,
                        fd_feature_fn=fd_feature_fn,
                        bootstrap_rounds=bootstrap_rounds)
  result.info = {"model": loaded.path, "step": loaded.step,
                 "render_size": loaded.render_size,
                 "ab_head": loaded.config.model.ab_head,
                 "decode_temperature": loaded.config.model.decode_temperature,
                 "decode_rebalance": loaded.config.model.decode_rebalance,
                 "decode_saturation": loaded.config.model.decode_saturation,
                 "test_time_flip": loaded.config.model.test_time_flip,
                 "dataset": data_config.dataset, "split": split,
                 "image_offset": image_offset, "image_stride": image_stride,
                 "skipped_files": skipped.count,
                 "grayscale_images_left_out": (grayscale.count
                                               if skip_grayscale else None)}
  # The resolved version dir, so a model base dir gives runs/eval/<name>_v<N>.
  output_dir = output_dir or evaluate_report.default_output_dir(
      loaded.path if model_path else "", model_dir)
  paths = evaluate_report.write_reports(
      result, output_dir,
      output_json or os.path.join(output_dir, evaluate_report.METRICS_FILE))
  return result, paths
