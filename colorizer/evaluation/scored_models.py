"""The models colorizer-evaluate scores, loaded alike into a LoadedModel.

  * an exported SavedModel, through its colorize_lab signature: exactly what
    TF Serving runs;
  * a training model dir, whose latest checkpoint runs through
    full_resolution.predict_ab at the config's image_size.
"""

import dataclasses
from typing import Callable, Optional

from absl import logging
import tensorflow as tf

from colorizer import config as config_lib

# Sources whose name means the same images on every machine: an export's
# recorded --dataset of these kinds is its default evaluation data.
PORTABLE_SOURCE_KINDS = ("demo", "tfds")

# l_star float32 [B, H, W, 1] in [0, 100] -> a*b* float32 [B, H, W, 2].
PredictAbFn = Callable[[tf.Tensor], tf.Tensor]


@dataclasses.dataclass
class LoadedModel:
  """A colorizer ready to score, whatever it was loaded from.

  Attributes:
    predict_ab: l_star float32 [B, H, W, 1] in [0, 100] -> a*b* float32
      [B, H, W, 2] at the same size, through the full-resolution path.
    config: the config it was trained with (data defaults, split seed).
    step: its training step (0 if unknown).
    path: the SavedModel version dir or the model dir.
    render_size: the square size the network runs at.
  """
  predict_ab: PredictAbFn
  config: config_lib.Config
  step: int
  path: str
  render_size: int


def load_saved_model(model_path: str) -> LoadedModel:
  """Loads an exported colorizer and scores through its colorize_lab signature.

  Args:
    model_path: a SavedModel version dir, or a model base dir (its highest
      integer version is used, as TF Serving would).

  Returns:
    A LoadedModel. Its config comes from the export's metadata, or is the
    default config (so --dataset must be given) for a SavedModel without it.

  Raises:
    ValueError: for a missing model, one without the colorize_lab signature,
      or a sketch model (not scored yet).
  """
  from colorizer.serving import colorize_lib  # pylint: disable=g-import-not-at-top
  from colorizer.serving import export  # pylint: disable=g-import-not-at-top
  version_dir, loaded, metadata = colorize_lib.load_export(model_path)
  _refuse_sketch_models(metadata.get("input_mode", "grayscale"), model_path)
  if export.LAB_SIGNATURE not in loaded.signatures:
    raise ValueError(f"--model={model_path}: {version_dir} has no "
                     f"{export.LAB_SIGNATURE} signature; re-export it with "
                     "colorizer-export.")
  signature = loaded.signatures[export.LAB_SIGNATURE]
  try:
    config = config_lib.from_dict(metadata.get("config", {}))
  except (ValueError, TypeError) as error:
    logging.warning("Ignoring the config in %s's metadata (%s); pass "
                    "--dataset.", version_dir, error)
    config = config_lib.Config()

  def predict_ab(l_star):
    return signature(**{export.INPUT_L: l_star})[export.OUTPUT_AB]

  return LoadedModel(predict_ab=predict_ab, config=config,
                     step=int(metadata.get("step") or 0), path=version_dir,
                     render_size=int(metadata.get("render_size") or
                                     config.data.image_size))


def recorded_dataset(model_path: str) -> str:
  """An export's recorded --dataset, if it names data rather than a path.

  A folder, glob or file is a path on the machine that trained the model,
  missing or holding other images elsewhere: it is not guessed. demo and
  tfds:NAME mean the same images everywhere.

  Args:
    model_path: a SavedModel version dir or model base dir.

  Returns:
    The recorded --dataset value.

  Raises:
    ValueError: naming --dataset and the recorded value, for a path or none.
  """
  from colorizer.serving import colorize_lib  # pylint: disable=g-import-not-at-top
  from colorizer.serving import export  # pylint: disable=g-import-not-at-top
  version_dir = colorize_lib.resolve_model_path(model_path)
  config = export.read_metadata(version_dir).get("config") or {}
  recorded = (config.get("data") or {}).get("dataset", "")
  needed = ("--dataset is needed with --model: name the images to score "
            "(folder:PATH, tfrecord:GLOB, npz:PATH or tfds:NAME[:SPLIT])")
  if not recorded:
    raise ValueError(f"{needed}; {version_dir} does not record the data it "
                     "was trained on.")
  kinds = [spec.strip().partition(":")[0] for spec in recorded.split(",")]
  if any(kind not in PORTABLE_SOURCE_KINDS for kind in kinds):
    raise ValueError(f"{needed}; {version_dir} was trained on "
                     f"--dataset={recorded}, a path on the machine that "
                     "trained it.")
  return recorded


def _refuse_sketch_models(input_mode: str, model: str) -> None:
  # The scores here compare a*b* for the image's own L*; a sketch model
  # predicts L* too, which needs other metrics (docs/sketch.md).
  if input_mode != "grayscale":
    raise ValueError(f"{model}: a --input_mode={input_mode} model; evaluate "
                     "scores grayscale models only for now (a sketch run's "
                     "validation metrics are in its eval_metrics.json).")


def load_model_dir(
    model_dir: str, checkpoint_path: Optional[str] = None,
    overrides: config_lib.InferenceOverrides = config_lib.InferenceOverrides(),
    render_size: int = 0) -> LoadedModel:
  """Restores a checkpoint and scores it through full_resolution.predict_ab.

  Args:
    model_dir: a training model dir (config.json and checkpoints/).
    checkpoint_path: a checkpoint prefix; default the latest.
    overrides: decode settings and test-time flipping to score instead of
      the run's own (config.InferenceOverrides).
    render_size: the square size the network runs at; 0 for the one its
      export renders at (colorizer_model.render_size).

  Returns:
    A LoadedModel whose network runs at render_size.

  Raises:
    ValueError: if the dir has no config.json or no checkpoint, holds a
      sketch model (not scored yet), or for a render size the network
      cannot take.
  """
  from colorizer.serving import export  # pylint: disable=g-import-not-at-top
  from colorizer.serving import full_resolution  # pylint: disable=g-import-not-at-top
  from colorizer.model import colorizer_model  # pylint: disable=g-import-not-at-top
  from colorizer.model import networks  # pylint: disable=g-import-not-at-top
  run_config = config_lib.load(model_dir)
  _refuse_sketch_models(run_config.data.input_mode, model_dir)
  render_size = colorizer_model.render_size(run_config, render_size)
  generator, config, step = export.restore_generator(
      model_dir, checkpoint_path, overrides)
  generator_fn = networks.inference_fn(generator, config.model.test_time_flip)

  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 1],
                                              tf.float32)])
  def predict_ab(l_star):
    return full_resolution.predict_ab(generator_fn, l_star, render_size)

  return LoadedModel(predict_ab=predict_ab, config=config, step=step,
                     path=model_dir, render_size=render_size)
