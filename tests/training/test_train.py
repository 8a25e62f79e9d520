"""The train step learns; the loop resumes, logs and stops on NaN."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from colorizer import color
from colorizer import config as config_lib
from colorizer.data import pipeline
from colorizer import flags_lib
from colorizer import presets
from colorizer.training import steps
from colorizer.training import train
from colorizer.training import validation
from tests import conftest


def test_generator_learns_color_well_below_the_gray_baseline(tiny_config):
  config = tiny_config.replace(
      model={"base_filters": 16, "max_filters": 64, "dropout": 0.0},
      optim={"gen_learning_rate": 2e-3})
  state = steps.build_state(config, tf.distribute.get_strategy())
  _, val, _ = pipeline.make_datasets(config.data, 8, seed=0)
  l_channel, ab_real = next(iter(val))  # A small fixed batch.
  step_fn = tf.function(steps.make_train_step(state, config, 8,
                                              adversarial=False))
  gray_l1 = float(tf.reduce_mean(tf.abs(ab_real)))
  for _ in range(150):
    scalars = step_fn(l_channel, ab_real)
  ab_fake = state.generator(l_channel, training=False)
  model_l1 = float(tf.reduce_mean(tf.abs(ab_fake - ab_real)))
  assert float(scalars["gen_recon"]) < 0.5 * gray_l1
  assert model_l1 < 0.5 * gray_l1, (model_l1, gray_l1)
  # Pretraining never touched the discriminator's optimizer.
  assert int(state.disc_optimizer.iterations.numpy()) == 0
  assert int(state.gen_optimizer.iterations.numpy()) == 150


def test_colorfulness_loss_makes_predictions_more_colorful(tiny_config):
  from colorizer.evaluation import metrics  # pylint: disable=g-import-not-at-top
  l_channel = tf.random.uniform([4, 32, 32, 1], -0.5, 0.5, seed=1)
  ab_real = tf.random.uniform([4, 32, 32, 2], -0.1, 0.1, seed=2)
  colorfulness, scalars = {}, {}
  for weight in (0.0, 20.0):
    config = tiny_config.replace(loss={"colorfulness_weight": weight},
                                 model={"dropout": 0.0})
    state = steps.build_state(config, tf.distribute.get_strategy())
    step_fn = tf.function(steps.make_train_step(state, config, 4,
                                                adversarial=False))
    for _ in range(40):
      scalars[weight] = step_fn(l_channel, ab_real)
    # training=True: 40 steps leave BatchNorm's moving statistics behind.
    rgb_fake = color.model_outputs_to_rgb(
        l_channel, state.generator(l_channel, training=True))
    colorfulness[weight] = float(np.mean(metrics.colorfulness(
        rgb_fake.numpy())))
  assert "colorfulness_loss" not in scalars[0.0]
  np.testing.assert_allclose(
      float(scalars[20.0]["gen_total"]),
      100.0 * float(scalars[20.0]["gen_recon"]) +
      20.0 * float(scalars[20.0]["colorfulness_loss"]), rtol=1e-4)
  assert colorfulness[20.0] > 2.0 * colorfulness[0.0] + 5.0, colorfulness


def test_adversarial_step_updates_both_networks_and_reports_scalars(
    tiny_config):
  config = tiny_config
  state = steps.build_state(config, tf.distribute.get_strategy())
  l_channel = tf.random.uniform([4, 32, 32, 1], -1, 1, seed=1)
  ab_real = tf.random.uniform([4, 32, 32, 2], -0.5, 0.5, seed=2)
  disc_before = [v.numpy().copy() for v in
                 state.discriminator.trainable_variables]
  scalars = tf.function(steps.make_train_step(state, config, 4))(l_channel,
                                                                 ab_real)
  assert set(scalars) == {"gen_total", "gen_gan", "gen_recon", "disc_total",
                          "disc_real", "disc_fake", "disc_real_mean",
                          "disc_fake_mean"}
  assert all(np.isfinite(float(v)) for v in scalars.values())
  assert 0.0 < float(scalars["disc_real_mean"]) < 1.0
  changed = [not np.allclose(a, b.numpy()) for a, b in
             zip(disc_before, state.discriminator.trainable_variables)]
  assert all(changed)


def test_linear_decay_schedule():
  optim = config_lib.OptimConfig(lr_schedule="linear_decay",
                                 decay_fraction=0.5)
  rates = [float(steps.learning_rate_at(s, 1.0, optim, 100))
           for s in (0, 50, 75, 100)]
  assert rates == pytest.approx([1.0, 1.0, 0.5, 0.0])
  constant = config_lib.OptimConfig()
  assert float(steps.learning_rate_at(90, 2e-4, constant, 100)) == (
      pytest.approx(2e-4))


def test_weight_decay_shrinks_kernels_only(tiny_config):
  config = tiny_config.replace(optim={"weight_decay": 0.5,
                                            "gen_learning_rate": 0.1})
  flags_lib.validate(config)
  state = steps.build_state(config, tf.distribute.get_strategy())
  variables = state.generator.trainable_variables
  before = {v.path: v.numpy().copy() for v in variables}
  # A zero gradient leaves Adam's own update at 0: only the decay acts.
  state.gen_optimizer.apply_gradients(
      [(tf.zeros_like(v), v) for v in variables])
  kernels = [v for v in variables if v.path.endswith("kernel")]
  others = [v for v in variables if not v.path.endswith("kernel")]
  assert kernels and {v.path.rsplit("/", 1)[-1] for v in others} == {
      "gamma", "beta", "bias"}
  for v in kernels:  # w -= learning_rate * weight_decay * w
    np.testing.assert_allclose(v.numpy(), before[v.path] * (1 - 0.1 * 0.5),
                               rtol=1e-5, atol=1e-7)
  for v in others:
    np.testing.assert_array_equal(v.numpy(), before[v.path])
  with pytest.raises(ValueError, match="--weight_decay=-0.1"):
    flags_lib.validate(config.replace(optim={"weight_decay": -0.1}))


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
  model_dir = str(tmp_path_factory.mktemp("run"))
  config = presets.tiny().replace(train={"train_steps": 4,
                                         "pretrain_steps": 1})
  metrics = train.train_and_evaluate(config, model_dir)
  return config, model_dir, metrics


def test_run_writes_config_checkpoints_samples_and_metrics(trained_run):
  config, model_dir, metrics = trained_run
  assert metrics["step"] == 4
  assert config_lib.load(model_dir) == config
  manager_dir = os.path.join(model_dir, "checkpoints")
  assert tf.train.latest_checkpoint(manager_dir).endswith("ckpt-4")
  assert os.path.exists(os.path.join(model_dir, "samples", "latest.png"))
  grid = tf.io.decode_png(tf.io.read_file(
      os.path.join(model_dir, "samples", "step_0000004.png")))
  tile = 32 * validation.grid_scale(32)  # Enlarged to be seen: 128 px.
  assert tile == 128
  assert grid.shape == (4 * tile, 3 * tile, 3)  # eval batch of 4: 4 rows.
  with open(os.path.join(model_dir, "eval_metrics.json")) as f:
    saved = json.load(f)
  for name in ("psnr", "psnr_gray", "ssim", "ssim_gray", "colorfulness",
               "colorfulness_true"):
    assert np.isfinite(saved[name])


def test_tensorboard_has_scalars_images_and_hparams(trained_run):
  _, model_dir, _ = trained_run
  train_events = conftest.summary_events(os.path.join(model_dir, "train"))
  for tag in ("train/gen_total", "train/gen_gan", "train/gen_recon",
              "train/disc_total", "train/disc_real_mean",
              "train/disc_fake_mean", "train/gen_learning_rate",
              "train/images_per_sec"):
    assert tag in train_events, tag
  eval_events = conftest.summary_events(os.path.join(model_dir, "eval"))
  # The HParams session sits with the metrics it is judged by.
  assert "_hparams_/session_start_info" in eval_events
  assert {"eval/psnr", "eval/ssim", "eval/psnr_gray"} <= set(eval_events)
  images = eval_events["eval/gray_prediction_truth"]
  assert [step for step, _ in images] == [2, 4]


def test_rerun_resumes_without_retraining(trained_run, tmp_path):
  config, model_dir, _ = trained_run
  checkpoint_dir = os.path.join(model_dir, "checkpoints")
  mtimes = {p: os.path.getmtime(p) for p in
            glob.glob(os.path.join(checkpoint_dir, "ckpt-*"))}
  weights_at_4 = _generator_weights(tf.train.latest_checkpoint(checkpoint_dir),
                                    config)
  # Same command again: already at train_steps, nothing is retrained.
  assert train.train_and_evaluate(config, model_dir)["step"] == 4
  assert {p: os.path.getmtime(p) for p in mtimes} == mtimes
  # A longer run continues from step 4 with the optimizer's state.
  longer = config.replace(train={"train_steps": 6})
  assert train.train_and_evaluate(longer, model_dir)["step"] == 6
  latest = tf.train.latest_checkpoint(checkpoint_dir)
  assert latest.endswith("ckpt-6")
  reader = tf.train.load_checkpoint(latest)
  iterations = [reader.get_tensor(name) for name, _ in
                tf.train.list_variables(latest)
                if name.startswith("gen_optimizer/_iterations")]
  assert iterations == [6]
  assert {p: os.path.getmtime(p) for p in mtimes} == mtimes
  weights_at_6 = _generator_weights(latest, config)
  assert not all(np.allclose(a, b) for a, b in zip(weights_at_4,
                                                   weights_at_6))


def _generator_weights(checkpoint_path, config):
  state = steps.build_state(config, tf.distribute.get_strategy())
  tf.train.Checkpoint(generator=state.generator).restore(
      checkpoint_path).expect_partial()
  return [v.numpy() for v in state.generator.trainable_variables]


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tiny_config,
                                                                  tmp_path):
  model_dir = str(tmp_path)
  config = tiny_config.replace(train={"train_steps": 2})
  train.train_and_evaluate(config, model_dir)
  poisoned = config.replace(train={"train_steps": 4},
                            loss={"recon_weight": float("inf")})
  with pytest.raises(train.NonFiniteLossError, match="gen_total.*at step 3"):
    train.train_and_evaluate(poisoned, model_dir)
  assert tf.train.latest_checkpoint(os.path.join(
      model_dir, "checkpoints")).endswith("ckpt-2")


def test_batch_not_divisible_by_replicas_is_an_error(tiny_config, tmp_path):
  config = tiny_config.replace(train={"batch_size": 3})

  class TwoReplicas:
    num_replicas_in_sync = 2

  with pytest.raises(ValueError, match="--batch_size=3.*2 replicas"):
    train._check_batch(config, TwoReplicas())  # pylint: disable=protected-access


def test_eval_grid_is_gray_prediction_truth():
  rgb = np.random.RandomState(0).rand(2, 16, 16, 3).astype(np.float32)
  l_channel, ab = color.rgb_to_model_inputs(rgb)
  metrics, grid = validation.evaluate_batches(lambda l: ab, [(l_channel, ab)])
  tile = 16 * validation.grid_scale(16)
  assert grid.shape == (2 * tile, 3 * tile, 3)
  np.testing.assert_allclose(grid[:, tile:2 * tile] / 255.0,
                             grid[:, 2 * tile:] / 255.0, atol=1 / 255)
  # Nearest-neighbour enlargement: every k x k block is one source pixel.
  np.testing.assert_allclose(
      grid[::tile // 16, ::tile // 16][:16, 32:48],
      color.rgb_float_to_uint8(rgb[0]).numpy(), atol=1)
  assert (grid[:tile] == np.repeat(np.repeat(
      grid[:tile:tile // 16, ::tile // 16], tile // 16, 0), tile // 16, 1)).all()
  assert metrics["psnr"] == 100.0  # Perfect prediction, capped.
  assert metrics["psnr_gray"] < 40 and metrics["num_images"] == 2


def test_eval_grid_rows_spread_over_the_batches():
  # 8 batches of 4 flat images, batch b all of gray level b / 10: the grid's
  # 8 rows are each batch's first image, not the first two batches.
  levels = [0.1 * (b + 1) for b in range(8)]
  batches = [color.rgb_to_model_inputs(np.full([4, 16, 16, 3], level,
                                               np.float32))
             for level in levels]
  _, grid = validation.evaluate_batches(lambda l: tf.zeros_like(
      tf.concat([l, l], axis=-1)), batches)
  tile = 16 * validation.grid_scale(16)
  assert grid.shape == (8 * tile, 3 * tile, 3)
  row_truth = [grid[row * tile, 2 * tile, 0] / 255.0 for row in range(8)]
  np.testing.assert_allclose(row_truth, levels, atol=2 / 255)


def test_a_pretrained_encoder_thaws_at_its_own_learning_rate(tiny_config):
  config = tiny_config.replace(
      data={"image_size": 32},
      model={"generator": "mobilenet_unet", "encoder_weights": "none"},
      optim={"gen_learning_rate": 1e-3, "encoder_learning_rate": 1e-4})
  state = steps.build_state(config, tf.distribute.get_strategy())
  learning_rate = lambda optimizer: float(optimizer.learning_rate)
  assert learning_rate(state.encoder_optimizer) == pytest.approx(1e-4)
  assert learning_rate(state.gen_optimizer) == pytest.approx(1e-3)
  default = steps.build_state(config.replace(optim={
      "encoder_learning_rate": 0.0}), tf.distribute.get_strategy())
  assert learning_rate(default.encoder_optimizer) == pytest.approx(1e-3)
  with pytest.raises(ValueError, match="--encoder_learning_rate=-1"):
    flags_lib.validate(config.replace(optim={"encoder_learning_rate": -1.0}))
