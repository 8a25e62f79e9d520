"""The a*b* class head in the generators, training, export and evaluate.

Its class weights from the data, its decode stored in the generator and
chosen at export or evaluation, and its flags and presets.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from colorizer import config as config_lib
from colorizer.evaluation import evaluate_lib
from colorizer.evaluation import scored_models
from colorizer import flags_lib
from colorizer import presets
from colorizer.model import ab_classes
from colorizer.model import networks
from colorizer.serving import export
from colorizer.training import steps
from colorizer.training import train
from tests import binaries
from tests import conftest

_Overrides = config_lib.InferenceOverrides

REPO_ROOT = conftest.REPO_ROOT


def _classes_config():
  return presets.tiny().replace(
      model={"ab_head": "classes", "base_filters": 16, "max_filters": 64,
             "dropout": 0.0},
      loss={"recon_weight": 1.0, "prior_batches": 2},
      optim={"gen_learning_rate": 2e-3})


# Both heads predict at half resolution (their last decoder features).
@pytest.mark.parametrize("generator, logits_size",
                         [("unet", 16), ("mobilenet_unet", 16)])
def test_class_head_generators_output_normalized_ab(generator, logits_size):
  config = _classes_config().replace(
      model={"generator": generator, "encoder_weights": "none",
             "base_filters": 8})
  model = networks.build_generator(config)
  ab = model(tf.zeros([2, 32, 32, 1]))
  assert ab.shape == (2, 32, 32, 2) and ab.dtype == tf.float32
  decoded, logits = networks.with_layer_outputs(
      model, [ab_classes.LOGITS_LAYER])(tf.zeros([2, 32, 32, 1]))
  assert logits.shape == (2, logits_size, logits_size,
                          ab_classes.num_classes())
  np.testing.assert_allclose(decoded, ab, atol=1e-6)
  assert float(tf.reduce_max(tf.abs(ab))) <= 1.0


def test_the_class_head_learns_and_beats_gray():
  config = _classes_config()
  state = steps.build_state(config, tf.distribute.get_strategy())
  from colorizer.data import pipeline  # pylint: disable=g-import-not-at-top
  _, val, _ = pipeline.make_datasets(config.data, 8, seed=0)
  l_channel, ab_real = next(iter(val))
  step_fn = tf.function(steps.make_train_step(state, config, 8,
                                              adversarial=False))
  first = float(step_fn(l_channel, ab_real)["gen_recon"])
  for _ in range(120):
    scalars = step_fn(l_channel, ab_real)
  assert float(scalars["gen_recon"]) < 0.5 * first
  ab_fake = state.generator(l_channel, training=False)
  gray_l1 = float(tf.reduce_mean(tf.abs(ab_real)))
  model_l1 = float(tf.reduce_mean(tf.abs(ab_fake - ab_real)))
  assert model_l1 < 0.5 * gray_l1, (model_l1, gray_l1)


@pytest.fixture(scope="module")
def classes_model_dir(tmp_path_factory):
  model_dir = str(tmp_path_factory.mktemp("classes"))
  config = _classes_config().replace(
      train={"train_steps": 4, "pretrain_steps": 2, "save_every": 4})
  train.train_and_evaluate(config, model_dir)
  return model_dir, config


def test_training_sets_class_weights_from_the_data_and_resume_keeps_them(
    classes_model_dir):
  model_dir, config = classes_model_dir
  checkpoint = tf.train.latest_checkpoint(os.path.join(model_dir,
                                                       "checkpoints"))
  names = dict(tf.train.list_variables(checkpoint))
  key = next(name for name in names if name.startswith("class_weights"))
  weights = tf.train.load_variable(checkpoint, key)
  assert weights.shape == (ab_classes.num_classes(),)
  assert weights.max() > 2 * weights.min()  # Rebalanced, not all ones.
  # Resuming restores them instead of recomputing: count prior reads.
  calls = []
  original = ab_classes.class_histogram
  try:
    ab_classes.class_histogram = lambda *a, **k: calls.append(1) or original(
        *a, **k)
    metrics = train.train_and_evaluate(
        config.replace(train={"train_steps": 6}), model_dir)
  finally:
    ab_classes.class_histogram = original
  assert metrics["step"] == 6 and not calls
  resumed = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
  np.testing.assert_array_equal(
      tf.train.load_variable(resumed, key), weights)


def test_a_run_without_rebalancing_continues_with_it(tmp_path):
  # A branch of a run trained with --rebalance_mix=1 (no class weights in its
  # checkpoint) continued with 0.5: the weights come from the data, the
  # restored decode weights stay, and everything else still must match.
  model_dir = str(tmp_path)
  config = _classes_config().replace(
      loss={"rebalance_mix": 1.0},
      train={"train_steps": 2, "pretrain_steps": 2, "save_every": 2})
  train.train_and_evaluate(config, model_dir)
  first = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
  assert not any(name.startswith("class_weights")
                 for name, _ in tf.train.list_variables(first))
  decode_key = next(name for name, _ in tf.train.list_variables(first)
                    if "log_class_weights" in name)
  metrics = train.train_and_evaluate(
      config.replace(loss={"rebalance_mix": 0.5},
                     train={"train_steps": 4, "pretrain_steps": 4}),
      model_dir)
  assert metrics["step"] == 4
  resumed = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
  key = next(name for name, _ in tf.train.list_variables(resumed)
             if name.startswith("class_weights"))
  weights = tf.train.load_variable(resumed, key)
  assert weights.max() > 2 * weights.min()  # Rebalanced, not all ones.
  np.testing.assert_array_equal(tf.train.load_variable(resumed, decode_key),
                                tf.train.load_variable(first, decode_key))


def test_training_stores_the_decode_weights_in_the_generator(
    classes_model_dir):
  model_dir, _ = classes_model_dir
  generator, _, _ = export.restore_generator(model_dir)
  log_weights = generator.get_layer(
      ab_classes.DECODE_LAYER).log_class_weights.numpy()
  # Mix 0.5 against the data's prior: rare colors weigh more than common.
  assert log_weights.max() - log_weights.min() > 1.0


def test_export_and_evaluate_decode_as_asked(classes_model_dir, tmp_path):
  model_dir, _ = classes_model_dir
  l_star = tf.random.uniform([1, 40, 24, 1], 0, 100, seed=3)
  plain = scored_models.load_model_dir(
      model_dir, overrides=_Overrides(decode_temperature=1.0,
                                      decode_rebalance=0.0))
  vivid = scored_models.load_model_dir(
      model_dir, overrides=_Overrides(decode_temperature=1.0,
                                      decode_rebalance=2.0))
  assert vivid.config.model.decode_rebalance == 2.0
  chroma = [float(tf.reduce_mean(tf.norm(m.predict_ab(l_star), axis=-1)))
            for m in (plain, vivid)]
  assert chroma[1] > chroma[0]  # Rebalancing favours saturated colors.
  spread_overrides = _Overrides(decode_temperature=1.0, decode_rebalance=0.0,
                                decode_saturation=2.0)
  spread = scored_models.load_model_dir(model_dir, overrides=spread_overrides)
  # The generators (before predict_ab's gamut clamp): saturation doubles
  # the colors' spread about the image's mean. The bilinear upsampling from
  # the half-resolution decode is linear and keeps constants, so it holds
  # at full resolution too.
  l_normalized = tf.random.uniform([2, 32, 32, 1], -1, 1, seed=5)
  offsets = []
  for saturation in (None, 2.0):
    generator, _, _ = export.restore_generator(
        model_dir, overrides=_Overrides(decode_temperature=1.0,
                                        decode_rebalance=0.0,
                                        decode_saturation=saturation))
    ab = generator(l_normalized)
    offsets.append(ab - tf.reduce_mean(ab, axis=[1, 2], keepdims=True))
  np.testing.assert_allclose(offsets[1], 2.0 * offsets[0], atol=1e-5)
  # The export decodes as asked, and says so in its metadata.
  version_dir = export.export_from_model_dir(
      model_dir, base_dir=str(tmp_path), name="classes",
      overrides=_Overrides(decode_temperature=1.0, decode_rebalance=2.0))
  loaded = tf.saved_model.load(version_dir)
  ab = loaded.signatures["colorize_lab"](l_star=l_star)["ab"]
  assert ab.shape == (1, 40, 24, 2)
  np.testing.assert_allclose(ab, vivid.predict_ab(l_star), atol=1e-3)
  metadata = export.read_metadata(version_dir)
  assert metadata["config"]["model"]["decode_rebalance"] == 2.0
  with pytest.raises(ValueError, match="--decode_temperature need"):
    evaluate_lib.evaluate(model_path=version_dir,
                          overrides=_Overrides(decode_temperature=0.5))
  with pytest.raises(ValueError, match="--decode_saturation need"):
    evaluate_lib.evaluate(model_path=version_dir,
                          overrides=_Overrides(decode_saturation=1.5))
  # 0 is a temperature like any other (the flags' unset is None): refused.
  with pytest.raises(ValueError, match="--decode_temperature=0.0: must be"):
    scored_models.load_model_dir(model_dir,
                                overrides=_Overrides(decode_temperature=0.0))
  saturated_dir = export.export_from_model_dir(
      model_dir, base_dir=str(tmp_path), name="classes",
      overrides=spread_overrides)
  saturated = tf.saved_model.load(saturated_dir)
  np.testing.assert_allclose(
      saturated.signatures["colorize_lab"](l_star=l_star)["ab"],
      spread.predict_ab(l_star), atol=1e-3)
  assert export.read_metadata(saturated_dir)["config"]["model"][
      "decode_saturation"] == 2.0


def test_evaluate_can_score_a_run_with_test_time_flip(classes_model_dir,
                                                      tmp_path):
  model_dir, config = classes_model_dir
  assert not config.model.test_time_flip
  mirror = lambda images: tf.reverse(images, axis=[2])
  l_star = tf.random.uniform([1, 16, 24, 1], 0, 100, seed=4)
  loaded = scored_models.load_model_dir(
      model_dir, overrides=_Overrides(test_time_flip=True))
  assert loaded.config.model.test_time_flip
  np.testing.assert_allclose(loaded.predict_ab(mirror(l_star)),
                             mirror(loaded.predict_ab(l_star)), atol=1e-3)
  version_dir = export.export_from_model_dir(
      model_dir, base_dir=str(tmp_path), name="classes")
  with pytest.raises(ValueError, match="--test_time_flip need --model_dir"):
    evaluate_lib.evaluate(model_path=version_dir,
                          overrides=_Overrides(test_time_flip=True))


def test_decode_grid_scores_every_decode_and_tabulates_them(
    classes_model_dir, tmp_path):
  model_dir, _ = classes_model_dir
  output_dir = tmp_path / "grid"
  result = subprocess.run(
      [sys.executable, "-m", "tools.decode_grid", f"--model_dir={model_dir}",
       f"--output_dir={output_dir}", "--temperatures=0.38,1",
       "--rebalances=0,2", "--saturations=1,2", "--num_images=3"],
      capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert result.returncode == 0, result.stderr[-3000:]
  names = [f"T{t}_R{r}_S{s}" for t in ("0.38", "1") for r in "02"
           for s in "12"]
  assert sorted(os.listdir(output_dir)) == names
  reports = {}
  for name in names:
    with open(output_dir / name / "metrics.json") as f:
      reports[name] = json.load(f)
  report = reports["T1_R2_S2"]
  assert (report["decode_temperature"], report["decode_rebalance"],
          report["decode_saturation"]) == (1, 2, 2)
  assert report["num_images"] == 3
  # The saturation reached the model (the tiny run's colors barely spread,
  # so only that: the decode layer's tests check what it does).
  psnr = lambda name: reports[name]["metrics"]["model"]["psnr"]
  assert psnr("T1_R0_S2") != psnr("T1_R0_S1")
  table = result.stdout.splitlines()
  assert table[0].startswith("| T | rebalance | saturation | PSNR (gray) |")
  assert [line.split(" | ")[:3] for line in table[2:10]] == [
      ["| " + t, r, s] for t in ("0.38", "1") for r in "02" for s in "12"]
  assert any(line.startswith("Rule (") for line in table)
  bad = binaries.run_main("tools.decode_grid", f"--model_dir={model_dir}",
                          f"--output_dir={output_dir}", "--temperatures=hot")
  assert bad.returncode == 1
  assert bad.stderr.strip().splitlines()[-1] == (
      "decode_grid: error: --temperatures=hot: expected comma-separated "
      "numbers.")


def test_decode_overrides_need_a_class_head(tiny_config, tmp_path):
  model_dir = str(tmp_path / "regression")
  train.train_and_evaluate(tiny_config.replace(
      train={"train_steps": 1, "eval_every": 0}), model_dir)
  with pytest.raises(ValueError, match="ab_head=classes"):
    export.restore_generator(model_dir,
                             overrides=_Overrides(decode_temperature=0.5))
  with pytest.raises(ValueError, match="--decode_saturation need"):
    export.restore_generator(model_dir,
                             overrides=_Overrides(decode_saturation=1.5))
  # Test-time flipping has no weights and no head to need: any model.
  _, flipped, _ = export.restore_generator(
      model_dir, overrides=_Overrides(test_time_flip=True))
  assert flipped.model.test_time_flip


@pytest.mark.parametrize("overrides, flag", [
    ({"model": {"decode_temperature": 0.0}}, "--decode_temperature"),
    ({"model": {"decode_rebalance": -1.0}}, "--decode_rebalance"),
    ({"model": {"decode_saturation": 0.0}}, "--decode_saturation"),
    ({"loss": {"rebalance_mix": 1.5}}, "--rebalance_mix"),
    ({"model": {"ab_head": "classes"}, "loss": {"prior_batches": 0}},
     "--prior_batches"),
    ({"model": {"ab_head": "classes"}, "data": {"input_mode": "sketch"}},
     "--ab_head=classes"),
])
def test_bad_class_head_flags_name_the_flag(tiny_config, overrides, flag):
  with pytest.raises(ValueError, match=flag):
    flags_lib.validate(tiny_config.replace(**overrides))


@pytest.mark.parametrize("name", sorted(presets.PRESETS))
def test_every_preset_is_a_valid_config(name, tmp_path):
  config = presets.preset(name)
  if config.loss.label_weight:  # It trains on class labels: give it some.
    np.savez(tmp_path / "labelled.npz",
             images=np.zeros([4, 32, 32, 3], np.uint8), labels=np.arange(4))
    config = config.replace(data={"dataset": f"npz:{tmp_path}/labelled.npz"})
  flags_lib.validate(config)


def test_the_cifar10_preset_decodes_its_class_head_as_chosen():
  config = presets.cifar10()
  generator = networks.build_generator(config.replace(
      model={"base_filters": 8}))
  decode = generator.get_layer(ab_classes.DECODE_LAYER)
  assert (decode.temperature, decode.rebalance, decode.saturation) == (
      config.model.decode_temperature, config.model.decode_rebalance,
      config.model.decode_saturation)
  # No adversarial phase: the cross-entropy trains the whole run.
  assert config.train.pretrain_steps == config.train.train_steps


def test_inference_overrides_replace_only_what_is_given(tiny_config):
  classes = presets.cifar10()
  assert _Overrides().given() == {}
  assert _Overrides().apply(classes) is classes
  overrides = _Overrides(decode_saturation=1.5, test_time_flip=False)
  assert overrides.given() == {"decode_saturation": 1.5,
                               "test_time_flip": False}
  applied = overrides.apply(classes)
  assert applied.model.decode_saturation == 1.5
  assert not applied.model.test_time_flip
  assert applied.model.decode_temperature == classes.model.decode_temperature
  assert applied.model.decode_rebalance == classes.model.decode_rebalance
  regression = tiny_config
  assert regression.model.ab_head != "classes"
  with pytest.raises(ValueError, match=(
      r"^--decode_temperature, --decode_saturation need a model trained "
      r"with --ab_head=classes; runs/x has a regression head\.$")):
    _Overrides(decode_temperature=0.5, decode_saturation=1.5).apply(
        regression, "runs/x")
  assert _Overrides(test_time_flip=True).apply(
      regression).model.test_time_flip
