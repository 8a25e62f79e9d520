"""tf.distribute strategy selection, and nothing else."""

import json
import os

from absl import logging
import tensorflow as tf

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")


def get_strategy(name: str = "auto", tpu: str = "") -> tf.distribute.Strategy:
  """Returns the tf.distribute strategy for a --strategy value.

  auto picks a TPU if one is reachable (--tpu or the environment), then
  MultiWorkerMirrored if TF_CONFIG names several workers, then Mirrored with
  more than one GPU, else the default (one-device) strategy.

  Args:
    name: auto, default, mirrored, multi_worker or tpu.
    tpu: TPU name or grpc address for the TPU cluster resolver.

  Raises:
    ValueError: naming --strategy, for an unknown name or a missing TPU.
  """
  if name not in STRATEGIES:
    raise ValueError(f"--strategy={name!r}: expected one of {STRATEGIES}.")
  if name == "auto":
    name = _auto_strategy_name(tpu)
    logging.info("--strategy=auto chose %s.", name)
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  try:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
  except (ValueError, tf.errors.NotFoundError) as error:
    raise ValueError(f"--strategy=tpu: no TPU found ({error}); set --tpu or "
                     "run on a TPU VM.") from None
  return tf.distribute.TPUStrategy(resolver)


def _auto_strategy_name(tpu: str) -> str:
  if tpu or os.environ.get("TPU_NAME"):
    return "tpu"
  if tf.config.list_logical_devices("TPU"):
    return "tpu"
  cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
  if len(cluster.get("worker", [])) + len(cluster.get("chief", [])) > 1:
    return "multi_worker"
  if len(tf.config.list_logical_devices("GPU")) > 1:
    return "mirrored"
  return "default"


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """True on the worker that writes summaries, checkpoints and exports."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not getattr(resolver, "task_type", None):
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  if task_type == "chief":
    return True
  has_chief = "chief" in resolver.cluster_spec().as_dict()
  return task_type == "worker" and task_id == 0 and not has_chief


def worker_dir(model_dir: str, strategy: tf.distribute.Strategy) -> str:
  """model_dir on the chief; a per-worker temp dir elsewhere.

  MultiWorkerMirroredStrategy needs every worker to save checkpoints (the save
  has collective ops), but only the chief's copy is kept.
  """
  if is_chief(strategy):
    return model_dir
  resolver = strategy.cluster_resolver
  return os.path.join(model_dir, "workers",
                      f"{resolver.task_type}_{resolver.task_id}")
