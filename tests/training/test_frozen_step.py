"""The train step with a frozen pretrained encoder does no encoder work but
its forward pass: no gradient, no BatchNorm statistics, no retracing.

Its graph is read before grappler prunes it, so an op that a backward pass
into the encoder would need shows up here even if it were dead code later.
"""

import numpy as np
import pytest
import tensorflow as tf

from colorizer import presets
from colorizer.model import encoder_unet
from colorizer.training import steps

IMAGE_SIZE = 64
BATCH = 4


def _config():
  """The photos recipe's step (a*b* classes, no GAN) on a tiny encoder U-Net."""
  return presets.tiny().replace(
      model={"generator": "mobilenet_unet", "encoder_weights": "none",
             "ab_head": "classes"},
      data={"image_size": IMAGE_SIZE}, loss={"recon_weight": 1.0})


def _batch(seed=0):
  shape = [BATCH, IMAGE_SIZE, IMAGE_SIZE]
  return (tf.random.uniform(shape + [1], -1, 1, seed=seed),
          tf.random.uniform(shape + [2], -0.5, 0.5, seed=seed + 1))


def _step(state, config, frozen):
  return tf.function(steps.make_train_step(state, config, BATCH,
                                           adversarial=False,
                                           freeze_encoder=frozen))


def _values(variables):
  return [v.numpy().copy() for v in variables]


def _changed(before, variables):
  return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


@pytest.fixture(scope="module")
def built():
  config = _config()
  state = steps.build_state(config, tf.distribute.get_strategy())
  return config, state, encoder_unet.require_encoder(state.generator)


def _encoder_ops(graph, encoder):
  """{gradient ops, BatchNorm batch-moment ops} inside the encoder."""
  scope = f"/{encoder.name}"
  names = [op.name for op in graph.get_operations() if scope in op.name]
  return ([n for n in names if n.startswith("gradient_tape/")],
          [n for n in names if "/moments/" in n and
           not n.startswith("gradient_tape/")])


def test_frozen_step_traces_no_backward_pass_into_the_encoder(built):
  config, state, encoder = built
  specs = [tf.TensorSpec(t.shape, t.dtype) for t in _batch()]
  frozen = _step(state, config, True).get_concrete_function(*specs).graph
  thawed = _step(state, config, False).get_concrete_function(*specs).graph
  frozen_gradients, frozen_moments = _encoder_ops(frozen, encoder)
  thawed_gradients, thawed_moments = _encoder_ops(thawed, encoder)
  # Frozen: the encoder runs forward, BatchNorm on its moving statistics.
  assert frozen_gradients == [] and frozen_moments == []
  # The same check finds them in the fine-tuning step, so it can fail.
  assert len(thawed_gradients) > 100 and thawed_moments
  assert any("depthwise" in name for name in thawed_gradients)
  # Thawing is per step function: the encoder is trainable again outside.
  assert encoder.trainable


def test_frozen_step_leaves_the_encoder_alone_and_trains_the_decoder(built):
  config, state, encoder = built
  encoder_ids = {id(v) for v in encoder.weights}
  # Kernels: a random encoder's deepest features, normalized with the
  # initial moving statistics, are nearly zero, so up0's BatchNorm scale
  # can get an exactly zero gradient.
  decoder = [v for v in state.generator.trainable_weights
             if id(v) not in encoder_ids and "kernel" in v.path]
  # Every encoder weight: kernels, BatchNorm scales and moving statistics.
  encoder_before, decoder_before = (_values(encoder.weights),
                                    _values(decoder))
  assert any("moving_variance" in v.path for v in encoder.weights)
  _step(state, config, True)(*_batch())
  assert not any(_changed(encoder_before, encoder.weights))
  assert all(_changed(decoder_before, decoder))
  assert int(state.encoder_optimizer.iterations.numpy()) == 0

  _step(state, config, False)(*_batch(seed=5))
  changed = dict(zip([v.path for v in encoder.weights],
                     _changed(encoder_before, encoder.weights)))
  assert all(changed[v.path] for v in encoder.trainable_weights)
  assert all(changed[v.path] for v in encoder.weights
             if "moving_" in v.path)
  assert int(state.encoder_optimizer.iterations.numpy()) == 1


def test_distributed_frozen_step_traces_once(built):
  config, state, _ = built
  strategy = tf.distribute.get_strategy()
  distributed = steps.make_distributed_step(
      strategy, steps.make_train_step(state, config, BATCH,
                                      adversarial=False, freeze_encoder=True),
      state.step)
  dataset = tf.data.Dataset.from_tensors(_batch()).repeat()
  iterator = iter(strategy.experimental_distribute_dataset(dataset))
  for num_steps in (1, 2, 1):
    distributed(iterator, tf.constant(num_steps))
  assert distributed.experimental_get_tracing_count() == 1
