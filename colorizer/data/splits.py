"""Train / validation splits of a source, and training subsets.

Every split is a pure function of the source's items and --seed, so
training, evaluation and prepare_data agree on which image is held out.
"""

import math

import numpy as np
import tensorflow as tf


def split_paths(paths, val_fraction: float, seed: int):
  """Deterministic (train, val) split of a list under a seed, each sorted."""
  if not 0.0 <= val_fraction < 1.0:
    raise ValueError(f"--val_fraction must be in [0, 1), got {val_fraction}.")
  order = np.random.RandomState(seed).permutation(len(paths))
  num_val = min(len(paths) - 1, max(1, math.ceil(len(paths) * val_fraction)))
  if val_fraction == 0.0:
    num_val = 0
  shuffled = [paths[i] for i in order]
  return sorted(shuffled[num_val:]), sorted(shuffled[:num_val])


def train_subset(num_train: int, train_fraction: float, seed: int):
  """Sorted indices of the training items kept by --train_fraction.

  A seeded draw of round(num_train * train_fraction) items (at least one),
  independent of the validation split's draw, so learning curves at several
  fractions share one validation split. Each smaller subset at one seed is
  part of every larger one: the curve adds photos, it never swaps them.

  Raises:
    ValueError: naming --train_fraction, outside (0, 1].
  """
  if not 0.0 < train_fraction <= 1.0:
    raise ValueError(f"--train_fraction={train_fraction}: must be in (0, 1].")
  if train_fraction == 1.0:
    return list(range(num_train))
  keep = max(1, round(num_train * train_fraction))
  order = np.random.RandomState(seed + 1).permutation(num_train)
  return sorted(int(index) for index in order[:keep])


def every_kth(dataset: tf.data.Dataset, val_fraction: float, want_val: bool):
  """Deterministic split of a stream without its own validation split."""
  if not 0.0 < val_fraction < 1.0:
    raise ValueError(f"--val_fraction must be in (0, 1) for a source without "
                     f"a validation split, got {val_fraction}.")
  period = max(2, round(1.0 / val_fraction))
  kept = dataset.enumerate().filter(
      lambda index, _: tf.equal(index % period, 0) == want_val)
  return kept.map(lambda index, item: item)
