"""U-Nets on keras.applications encoders: shapes, weights, freezing, export.

Every model here is built with encoder_weights="none" or a file the test
writes itself: nothing is downloaded.
"""

import dataclasses
import functools
import io
import os

import keras
import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from colorizer import config as config_lib
from colorizer import flags_lib
from colorizer import presets
from colorizer.model import encoder_unet
from colorizer.model import networks
from colorizer.serving import export
from colorizer.serving import full_resolution
from colorizer.training import steps
from colorizer.training import train

IMAGE_SIZE = 64


def _config(generator="mobilenet_unet", encoder_weights="none", **train_values):
  return presets.tiny().replace(
      model={"generator": generator, "encoder_weights": encoder_weights},
      data={"image_size": IMAGE_SIZE}, train=train_values)


def _values(variables):
  return [v.numpy().copy() for v in variables]


def _weights(layer):
  return _values(layer.weights)


def _same(before, after):
  """Per variable: unchanged?"""
  before, after = list(before), list(after)
  assert len(before) == len(after)
  return [np.array_equal(a, b) for a, b in zip(before, after)]


@pytest.mark.parametrize("generator", ["mobilenet_unet", "resnet_unet"])
def test_shapes_params_and_preprocessing(generator):
  model = networks.build_generator(_config(generator), seed=1)
  l_channel = np.random.RandomState(0).uniform(
      -1, 1, [2, IMAGE_SIZE, IMAGE_SIZE, 1]).astype(np.float32)
  ab = model(l_channel, training=False)
  assert ab.shape == (2, IMAGE_SIZE, IMAGE_SIZE, 2) and ab.dtype == tf.float32
  assert np.abs(ab.numpy()).max() <= 1.0
  # Any multiple of 32 runs (an export's render size).
  assert model(np.zeros([1, 96, 96, 1], np.float32),
               training=False).shape == (1, 96, 96, 2)

  spec = encoder_unet.ENCODERS[generator]
  application = spec.application(include_top=False, weights=None,
                                 input_shape=(None, None, 3))
  encoder = encoder_unet.require_encoder(model)
  assert encoder.count_params() == application.count_params()
  assert [o.shape[1] for o in encoder(np.zeros([1, 64, 64, 3]))] == [
      32, 16, 8, 4, 2]

  # L* -1, 0, +1 reach the encoder as the application's preprocessing of
  # gray 0, 127.5 and 255 on all three channels.
  preprocessed = keras.Model(model.input,
                             model.get_layer("encoder_preprocess").output)
  l_values = np.array([-1.0, 0.0, 1.0], np.float32).reshape([3, 1, 1, 1])
  got = preprocessed(np.tile(l_values, [1, 32, 32, 1])).numpy()
  gray = np.tile(np.array([0.0, 127.5, 255.0], np.float32).reshape(
      [3, 1, 1, 1]), [1, 32, 32, 3])
  np.testing.assert_allclose(got, spec.preprocess_input(gray), atol=1e-5)


@pytest.mark.parametrize("file_name", ["encoder.weights.h5", "mobilenet.h5"])
def test_encoder_weights_from_a_local_file(tmp_path, file_name):
  path = str(tmp_path / file_name)
  source = networks.build_generator(_config(), seed=1)
  if file_name.endswith(".weights.h5"):
    encoder_unet.require_encoder(source).save_weights(path)
    expected = _weights(encoder_unet.require_encoder(source))
  else:  # A legacy .h5 written by the keras.applications model itself.
    keras.utils.set_random_seed(7)
    application = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(None, None, 3))
    application.save(path)
    expected = _weights(application)
  keras.utils.set_random_seed(3)  # A different random init before loading.
  loaded = networks.build_generator(_config(encoder_weights=path), seed=2)
  assert all(_same(expected, _weights(encoder_unet.require_encoder(loaded))))


def test_bad_configs_are_value_errors_naming_the_flag(tiny_config, tmp_path,
                                                      monkeypatch):
  missing = str(tmp_path / "missing.weights.h5")
  with pytest.raises(ValueError, match="--encoder_weights="):
    networks.build_generator(_config(encoder_weights=missing))
  with pytest.raises(ValueError, match="--encoder_weights="):
    flags_lib.validate(_config(encoder_weights=missing))
  with pytest.raises(ValueError, match="--image_size=48.*--generator="
                     "resnet_unet.*multiple of 32"):
    flags_lib.validate(_config("resnet_unet").replace(data={"image_size": 48}))
  with pytest.raises(ValueError, match="--freeze_encoder_steps needs"):
    flags_lib.validate(tiny_config.replace(
        train={"freeze_encoder_steps": 1}))
  unet_state = steps.build_state(tiny_config,
                                 tf.distribute.get_strategy())
  with pytest.raises(ValueError, match="--freeze_encoder_steps needs"):
    steps.make_train_step(unet_state, tiny_config, 4,
                          freeze_encoder=True)
  # A file for another architecture.
  wrong = str(tmp_path / "resnet.weights.h5")
  encoder_unet.build_encoder("resnet_unet", "none").save_weights(wrong)
  with pytest.raises(ValueError, match="--encoder_weights=.*MobileNetV2"):
    encoder_unet.build_encoder("mobilenet_unet", wrong)

  # Offline, imagenet fails with the way out in the message.
  def offline(**unused_kwargs):
    raise Exception("URL fetch failure")  # What keras.utils.get_file raises.

  spec = encoder_unet.ENCODERS["mobilenet_unet"]
  monkeypatch.setitem(encoder_unet.ENCODERS, "mobilenet_unet",
                      dataclasses.replace(spec, application=offline))
  with pytest.raises(ValueError, match="--encoder_weights=PATH"):
    encoder_unet.build_encoder("mobilenet_unet", "imagenet")


def test_phases_combine_pretraining_and_freezing():
  phase = train._phase  # pylint: disable=protected-access
  train_config = config_lib.TrainConfig(train_steps=6, pretrain_steps=2,
                                        freeze_encoder_steps=4)
  assert [phase(step, train_config) for step in range(6)] == [
      (False, True, 2), (False, True, 2), (True, True, 4), (True, True, 4),
      (True, False, 6), (True, False, 6)]
  assert phase(0, config_lib.TrainConfig(
      train_steps=6, pretrain_steps=3, freeze_encoder_steps=3)) == (
          False, True, 3)
  assert phase(0, config_lib.TrainConfig(train_steps=6)) == (True, False, 6)


def test_train_freeze_then_export_without_the_weights_file(tmp_path):
  weights_path = str(tmp_path / "encoder.weights.h5")
  pretrained = encoder_unet.build_encoder("mobilenet_unet", "none")
  pretrained.save_weights(weights_path)
  # An npz source: the demo scenes cost seconds to trace.
  images_path = str(tmp_path / "images.npz")
  np.savez(images_path, images=np.random.RandomState(0).randint(
      0, 256, [12, IMAGE_SIZE, IMAGE_SIZE, 3], np.uint8))
  model_dir = str(tmp_path / "run")
  config = _config(encoder_weights=weights_path, train_steps=2,
                   pretrain_steps=2, freeze_encoder_steps=1, save_every=1,
                   eval_every=0).replace(data={"dataset": f"npz:{images_path}"})
  assert train.train_and_evaluate(config, model_dir)["step"] == 2
  # The export rebuilds from config.json and the checkpoint alone: the
  # weights file (or an ImageNet download) is no longer needed.
  os.remove(weights_path)
  frozen_generator, _, _ = export.restore_generator(
      model_dir, os.path.join(model_dir, "checkpoints", "ckpt-1"))
  generator, _, step = export.restore_generator(model_dir)
  assert step == 2

  # Step 1 (frozen): the encoder, BatchNorm statistics included, is the
  # file's; the decoder moved away from its (seeded) initialization.
  frozen_encoder = encoder_unet.require_encoder(frozen_generator)
  assert all(_same(_weights(pretrained), _weights(frozen_encoder)))
  initial = networks.build_generator(_config(), seed=config.train.seed)

  def decoder_kernels(model):
    encoder_ids = {id(v) for v in encoder_unet.require_encoder(model).weights}
    return _values(v for v in model.trainable_weights
                   if id(v) not in encoder_ids)

  assert not any(_same(decoder_kernels(initial),
                       decoder_kernels(frozen_generator)))
  # Step 2 (thawed): the encoder's convolutions train too, but its
  # BatchNorm layers stay in inference mode: statistics, gamma and beta are
  # still the file's (SOURCES.md of the shipped weights asks for it).
  thawed_encoder = encoder_unet.require_encoder(generator)

  def encoder_weights(encoder, batch_norm):
    return _values(weight for layer in encoder.layers
                   if isinstance(layer, keras.layers.BatchNormalization)
                   == batch_norm for weight in layer.weights)

  assert not any(_same(encoder_weights(frozen_encoder, batch_norm=False),
                       encoder_weights(thawed_encoder, batch_norm=False)))
  batch_norm_weights = functools.partial(encoder_weights, batch_norm=True)
  assert batch_norm_weights(thawed_encoder)
  assert all(_same(batch_norm_weights(pretrained),
                   batch_norm_weights(thawed_encoder)))

  version_dir = export.export_from_model_dir(
      model_dir, base_dir=str(tmp_path / "models"))
  assert export.read_metadata(version_dir)["render_multiple"] == 32
  loaded = tf.saved_model.load(version_dir)
  rgb = np.random.RandomState(0).randint(0, 256, [40, 50, 3], np.uint8)
  buffer = io.BytesIO()
  Image.fromarray(rgb).save(buffer, format="PNG")
  served = loaded.signatures["serving_default"](
      image_bytes=tf.constant([buffer.getvalue()]))["colorized_bytes"]
  assert tf.io.decode_png(served[0]).shape == (40, 50, 3)
  l_star = tf.random.uniform([1, 40, 50, 1], 0, 100, seed=3)
  np.testing.assert_allclose(
      loaded.signatures["colorize_lab"](l_star=l_star)["ab"],
      full_resolution.predict_ab(lambda l: generator(l, training=False), l_star,
                        IMAGE_SIZE), atol=1e-3)


def test_thawed_encoder_takes_a_fresh_adam_step(tmp_path):
  """After a long freeze the encoder's first update is about the learning
  rate (a fresh Adam's), not the many-times-larger step of an optimizer
  whose bias correction has counted the frozen steps."""
  config = _config(freeze_encoder_steps=1)
  state = steps.build_state(config, tf.distribute.get_strategy())
  assert state.encoder_optimizer is not None
  # As if 1,000 decoder-only steps had run: the generator's optimizer has
  # counted them, the encoder's has not.
  state.gen_optimizer.iterations.assign(1000)
  encoder = encoder_unet.find_encoder(state.generator)
  before = _values(encoder.trainable_variables)
  step_fn = tf.function(steps.make_train_step(state, config, 4,
                                              adversarial=False))
  shape = [4, IMAGE_SIZE, IMAGE_SIZE]
  step_fn(tf.random.uniform(shape + [1], -1, 1, seed=3),
          tf.random.uniform(shape + [2], -0.5, 0.5, seed=4))
  largest = max(float(np.abs(a - b).max())
                for a, b in zip(_values(encoder.trainable_variables), before))
  learning_rate = config.optim.gen_learning_rate
  assert 0.5 * learning_rate < largest <= 1.01 * learning_rate
  assert int(state.encoder_optimizer.iterations.numpy()) == 1
  path = state.checkpoint().write(str(tmp_path / "ckpt"))
  assert any(name.startswith("encoder_optimizer/")
             for name, _ in tf.train.list_variables(path))
