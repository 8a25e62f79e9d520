"""Measurements behind the benchmark commands: rates, FLOPs, peak, memory.

Each `*_rate` function warms up (tracing, compilation, autotuning) and then
times whole steps, synchronizing on a result each step, so the numbers are
images per second as a training or serving loop sees them.
"""

import json
import resource
import time
from typing import Dict

import keras
import numpy as np
import tensorflow as tf

from colorizer import config as config_lib
from colorizer import presets
from colorizer.data import pipeline
from colorizer.model import colorizer_model
from colorizer.model import networks
from colorizer.training import steps


def benchmark_config(image_size: int, batch_size: int, base_filters: int = 64,
                     mixed_precision: str = "auto", jit_compile: bool = False,
                     steps_per_execution: int = 1) -> config_lib.Config:
  """The reference architecture at a given size and precision."""
  return presets.pix2pix().replace(
      data={"image_size": image_size},
      model={"base_filters": base_filters},
      train={"batch_size": batch_size, "mixed_precision": mixed_precision,
             "jit_compile": jit_compile,
             "steps_per_execution": steps_per_execution,
             "strategy": "default"})


def _synthetic_batch(image_size, batch_size, seed=0, num_labels=0):
  rng = np.random.RandomState(seed)
  l_channel = rng.uniform(-1, 1, [batch_size, image_size, image_size, 1])
  ab = rng.uniform(-0.5, 0.5, [batch_size, image_size, image_size, 2])
  batch = (l_channel.astype(np.float32), ab.astype(np.float32))
  if num_labels:
    return batch + (rng.randint(0, num_labels, [batch_size]).astype(np.int32),)
  return batch


def _time_calls(call, num_calls: int, images_per_call: int,
                min_seconds: float) -> float:
  """Images/sec over at least num_calls calls and min_seconds."""
  calls = 0
  start = time.perf_counter()
  while calls < num_calls or time.perf_counter() - start < min_seconds:
    call()
    calls += 1
  return calls * images_per_call / (time.perf_counter() - start)


def colorizer_train_call(config: config_lib.Config, adversarial: bool = True,
                         freeze_encoder: bool = False, num_labels: int = 0):
  """A warmed-up train-step call on synthetic batches.

  Args:
    config: the run's config (its precision already resolved).
    adversarial: False times the reconstruction-only step (pretraining, and
      the photos recipe, which has no GAN phase).
    freeze_encoder: the step of a frozen pretrained encoder.
    num_labels: labels in the synthetic batches, for --label_weight > 0.

  Returns:
    (call, images per call): each call runs steps_per_execution steps and
    waits for their result.
  """
  strategy = tf.distribute.get_strategy()
  try:
    state = steps.build_state(config, strategy, num_labels=num_labels)
    batch_size = config.train.batch_size
    spe = config.train.steps_per_execution
    distributed = steps.make_distributed_step(
        strategy, steps.make_train_step(state, config, batch_size,
                                        adversarial=adversarial,
                                        freeze_encoder=freeze_encoder),
        state.step, config.train.jit_compile, spe)
    dataset = tf.data.Dataset.from_tensors(_synthetic_batch(
        config.data.image_size, batch_size, num_labels=num_labels)).repeat()
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    num = tf.constant(spe)
    call = lambda: float(distributed(iterator, num)["gen_total"])
    call()
    call()  # Warm-up: trace, compile, oneDNN primitive caches.
  finally:
    colorizer_model.set_precision_policy("none")
  return call, batch_size * spe


def colorizer_train_rate(config: config_lib.Config, num_steps: int = 5,
                         min_seconds: float = 10.0, **step_options) -> float:
  """Images/sec of colorizer's train step (adversarial by default) on
  synthetic batches; step_options as colorizer_train_call's."""
  call, images = colorizer_train_call(config, **step_options)
  spe = config.train.steps_per_execution
  return _time_calls(call, max(1, num_steps // spe), images, min_seconds)


def interleaved_rates(calls: Dict[str, tuple], rounds: int,
                      seconds_per_round: float) -> Dict[str, float]:
  """Images/sec of several (call, images per call), timed in turns.

  Each round times every call for seconds_per_round, and each rate is the
  median over rounds: on a shared machine, load that comes and goes hits
  every variant alike, so their ratios hold where absolute rates do not.
  """
  rates = {name: [] for name in calls}
  for call, _ in calls.values():
    call()  # The first call after building another model can be slow.
  for _ in range(rounds):
    for name, (call, images) in calls.items():
      rates[name].append(_time_calls(call, 1, images, seconds_per_round))
  return {name: float(np.median(values)) for name, values in rates.items()}


def textbook_train_rate(image_size: int, batch_size: int,
                        base_filters: int = 64, num_steps: int = 5,
                        min_seconds: float = 10.0) -> float:
  """Images/sec of the TF tutorial's pix2pix step (benchmarks/textbook_...)."""
  from benchmarks import textbook_pix2pix  # pylint: disable=g-import-not-at-top
  keras.config.set_dtype_policy("float32")
  train_step, _, _ = textbook_pix2pix.make_train_step(image_size,
                                                      base_filters)
  l_channel, ab = (tf.constant(x) for x in _synthetic_batch(image_size,
                                                             batch_size))
  call = lambda: float(train_step(l_channel, ab))
  call()
  call()
  return _time_calls(call, num_steps, batch_size, min_seconds)


def conv_flops_per_image(model: keras.Model, image_size: int) -> float:
  """Forward FLOPs (2 per multiply-add) of a model's convolutions, per image.

  Convolutions are all but a negligible part of pix2pix's arithmetic; norm,
  activation and concatenation are left out. Transposed convolutions cost
  the same as the convolution whose gradient they are.
  """
  inputs = [np.zeros([1, image_size, image_size, int(t.shape[-1])],
                     np.float32) for t in model.inputs]
  probe = keras.Model(model.inputs, [
      layer.output for layer in model.layers
      if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))
  ] + [layer.input for layer in model.layers
       if isinstance(layer, (keras.layers.Conv2D,
                             keras.layers.Conv2DTranspose))])
  shapes = [t.shape for t in probe(inputs if len(inputs) > 1 else inputs[0],
                                   training=False)]
  convs = [layer for layer in model.layers
           if isinstance(layer, (keras.layers.Conv2D,
                                 keras.layers.Conv2DTranspose))]
  outputs, layer_inputs = shapes[:len(convs)], shapes[len(convs):]
  total = 0.0
  for layer, out_shape, in_shape in zip(convs, outputs, layer_inputs):
    kernel_h, kernel_w = layer.kernel_size
    if isinstance(layer, keras.layers.Conv2DTranspose):
      positions = in_shape[1] * in_shape[2]
    else:
      positions = out_shape[1] * out_shape[2]
    total += 2.0 * kernel_h * kernel_w * in_shape[-1] * out_shape[-1] * (
        positions)
  return total


def train_flops_per_image(config: config_lib.Config) -> float:
  """FLOPs of one adversarial train step per image.

  Forward: G once, D twice (real and fake pairs). Backward costs about twice
  the forward of what it differentiates: G's backward (through D's fake
  pass, which needs D's input gradient) and D's backward on both passes.
  """
  size = config.data.image_size
  generator_flops = conv_flops_per_image(networks.build_generator(config), size)
  disc_flops = conv_flops_per_image(networks.build_discriminator(config), size)
  forward = generator_flops + 2 * disc_flops
  backward = 2 * generator_flops + 2 * disc_flops + 2 * 2 * disc_flops
  return forward + backward


def matmul_peak_flops(dtype=tf.float32, size: int = 4096,
                      min_seconds: float = 3.0) -> float:
  """The machine's measured dense matmul rate (FLOP/s) in dtype.

  A square matmul large enough (4096: 137 GFLOP a call) that call overhead
  and the cast/reduction around it are negligible: the best rate TensorFlow
  reaches on this hardware, against which MFU is reported.
  """
  a = tf.random.uniform([size, size], dtype=tf.float32)
  a = tf.cast(a, dtype)
  matmul = tf.function(lambda x: tf.reduce_sum(tf.cast(tf.matmul(x, x),
                                                       tf.float32)))
  float(matmul(a))
  rate = _time_calls(lambda: float(matmul(a)), 3, 1, min_seconds)
  return rate * 2.0 * size ** 3


def input_pipeline_rate(data_config: config_lib.DataConfig, batch_size: int,
                        num_batches: int = 20, min_seconds: float = 5.0
                        ) -> float:
  """Images/sec the training tf.data pipeline delivers on its own."""
  train, _, _ = pipeline.make_datasets(data_config, batch_size, seed=0)
  iterator = iter(train)
  next(iterator)
  return _time_calls(lambda: next(iterator)[0].numpy(), num_batches,
                     batch_size, min_seconds)


def peak_memory_mb() -> float:
  """This process's peak resident memory (Linux ru_maxrss is in KiB)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def gpu_peak_memory_mb() -> Dict[str, float]:
  peaks = {}
  for device in tf.config.list_logical_devices("GPU"):
    info = tf.config.experimental.get_memory_info(device.name)
    peaks[device.name] = info["peak"] / 2 ** 20
  return peaks


def serving_rate(saved_model_path: str, height: int, width: int,
                 batch_size: int, min_seconds: float = 10.0) -> float:
  """Images/sec through serving_default: encoded JPEG in, PNG out."""
  from colorizer.serving import export  # pylint: disable=g-import-not-at-top
  loaded = tf.saved_model.load(saved_model_path)
  serve = loaded.signatures[export.SERVING_SIGNATURE]
  rng = np.random.RandomState(0)
  gray = rng.randint(0, 255, [height, width, 1]).astype(np.uint8)
  jpeg = tf.io.encode_jpeg(tf.constant(gray)).numpy()
  image_bytes = tf.constant([jpeg] * batch_size)
  call = lambda: serve(image_bytes=image_bytes)[export.OUTPUT_BYTES].numpy()
  call()
  return _time_calls(call, 3, batch_size, min_seconds)


class Recorder:
  """Prints each measurement as a line and keeps it for the table.

  Every line and JSON record ends with where it was measured (CPU model and
  widest ISA, TensorFlow, oneDNN on or off): figures from two machines can
  then never be mixed up.
  """

  def __init__(self, json_path: str, where: dict):
    self.rows = []
    self.where = where
    self._json = open(json_path, "w") if json_path else None

  def add(self, **values):
    self.rows.append(values)
    values = dict(values, **self.where)
    line = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else
                    f"{k}={json.dumps(v) if ' ' in str(v) else v}"
                    for k, v in values.items())
    print(line, flush=True)
    if self._json:
      self._json.write(json.dumps(values) + "\n")
      self._json.flush()
