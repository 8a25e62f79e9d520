"""Training from several --dataset sources at once.

`--dataset=folder:imagenette/train,folder:places/train` names several
sources, separated by commas. Training samples them together (by default each
in proportion to its number of training images; `--dataset_weights=1,3` sets
the mix), each source keeps its own validation split, and class labels stay
apart: the second source's labels follow the first's (10 Imagenette classes
and 100 Places classes give 110 labels).

Each source is named after its location (`imagenette`, `places`; a generic
last folder such as `train` gives way to its parent), and that name labels
its validation scores in TensorBoard (`eval/<name>/psnr`) and in
colorizer-evaluate.
"""

import os
import dataclasses
from typing import Dict, List, Optional, Sequence

import tensorflow as tf

from colorizer import config as config_lib
from colorizer.data import image_io
from colorizer.data import image_sources
from colorizer.data import tfds_source

# Folder names that say which split a folder is, not what it holds: a source
# is named after the folder above them.
_GENERIC_FOLDERS = frozenset(
    ("train", "training", "val", "validation", "test", "images", "data"))


def split_specs(dataset: str) -> List[str]:
  """The source specs of a --dataset value, in order.

  Raises:
    ValueError: naming --dataset, for an empty entry (",," or a trailing
      comma).
  """
  specs = [spec.strip() for spec in dataset.split(",")]
  for index, spec in enumerate(specs):
    if not spec:
      raise ValueError(f"--dataset={dataset!r}: entry {index + 1} of "
                       f"{len(specs)} is empty; separate sources by single "
                       "commas.")
  return specs


def source_name(spec: str) -> str:
  """A short name for one source spec: its folder, file or dataset name.

  folder:../data/places/train -> places; tfds:imagenette/320px-v2:train ->
  imagenette; npz:cifar10/train.npz -> train; demo -> demo.
  """
  kind, _, location = spec.partition(":")
  if kind == "tfds":
    return location.split(":")[0].split("/")[0] or kind
  path = os.path.normpath(os.path.expanduser(location)) if location else ""
  parts = [part for part in path.replace("*", "").split(os.sep)
           if part not in ("", ".", "..")]
  while len(parts) > 1 and parts[-1].lower() in _GENERIC_FOLDERS:
    parts.pop()
  name = os.path.splitext(parts[-1])[0] if parts else ""
  return name.strip(".") or kind


def source_names(specs: Sequence[str]) -> List[str]:
  """Unique names for the sources, in order (a repeat gets _2, _3, ...)."""
  names, seen = [], {}
  for spec in specs:
    name = source_name(spec)
    seen[name] = seen.get(name, 0) + 1
    names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
  return names


def parse_weights(text: str, num_sources: int) -> Optional[List[float]]:
  """--dataset_weights as floats, one per source; None when not given.

  Raises:
    ValueError: naming --dataset_weights, for a count that does not match
      the sources, a value that is not a number, or one that is not positive.
  """
  if not text.strip():
    return None
  try:
    weights = [float(value) for value in text.split(",")]
  except ValueError:
    raise ValueError(f"--dataset_weights={text!r}: expected comma-separated "
                     "numbers, one per --dataset source.") from None
  if len(weights) != num_sources:
    raise ValueError(f"--dataset_weights={text!r}: {len(weights)} weight(s) "
                     f"for {num_sources} --dataset source(s).")
  if any(not weight > 0 for weight in weights):
    raise ValueError(f"--dataset_weights={text!r}: every weight must be "
                     "positive.")
  return weights


def mixing_weights(data_config: config_lib.DataConfig, specs: Sequence[str],
                   num_train: Sequence[Optional[int]]) -> List[float]:
  """Each source's share of the training stream, summing to 1.

  Raises:
    ValueError: naming --dataset_weights, when it is not given and a
      source cannot say how many images it has (tfrecord shards).
  """
  weights = parse_weights(data_config.dataset_weights, len(specs))
  if weights is None:
    unknown = [spec for spec, count in zip(specs, num_train) if not count]
    if unknown:
      raise ValueError(f"--dataset_weights: {unknown[0]} does not say how "
                       "many images it holds, so the sources cannot be mixed "
                       "by size; give one weight per source.")
    weights = [float(count) for count in num_train]
  total = sum(weights)
  return [weight / total for weight in weights]


def offset_labels(dataset: tf.data.Dataset, offset: int) -> tf.data.Dataset:
  """(image, label) pairs with label + offset: one label space per source."""
  if not offset:
    return dataset
  return dataset.map(lambda image, label: (image, label + offset),
                     num_parallel_calls=tf.data.AUTOTUNE)


def mix(streams: Sequence[tf.data.Dataset], weights: Sequence[float],
        seed: int) -> tf.data.Dataset:
  """One endless training stream drawing from each source by weight.

  Each source repeats on its own, so a small source neither runs dry nor
  changes the mix when it reaches its end.
  """
  return tf.data.Dataset.sample_from_datasets(
      [stream.repeat() for stream in streams], weights=list(weights),
      seed=seed)


def check_labels(dataset: str) -> None:
  """image_sources.check_labels for every source of a --dataset list.

  Raises:
    ValueError: one line naming --label_weight and the source without labels.
  """
  for spec in split_specs(dataset):
    image_sources.check_labels(spec)


def check_sources(data_config: config_lib.DataConfig) -> None:
  """Checks each --dataset source, and the weights, before any work.

  Raises:
    ValueError: one line naming the flag and the bad entry.
  """
  specs = split_specs(data_config.dataset)
  parse_weights(data_config.dataset_weights, len(specs))
  if len(specs) > 1 and "demo" in specs:
    raise ValueError(f"--dataset={data_config.dataset!r}: demo cannot be "
                     "mixed with other sources.")
  for spec in specs:
    _check_source(dataclasses.replace(data_config, dataset=spec))


def _check_source(data_config: config_lib.DataConfig) -> None:
  """One source: its spec parses, and its files are there."""
  spec = image_sources.parse_dataset_spec(data_config.dataset)
  image_sources.check_train_fraction(data_config)
  if spec.kind == "folder" and not os.path.isdir(spec.location):
    raise ValueError(f"--dataset=folder:{spec.location}: no such directory.")
  if spec.kind == "npz" and not os.path.exists(spec.location):
    raise ValueError(f"--dataset=npz:{spec.location}: no such file or folder.")
  if spec.kind == "tfrecord" and not tf.io.gfile.glob(spec.location):
    raise ValueError(f"--dataset=tfrecord:{spec.location}: no file matches.")
  if spec.kind == "tfds":  # A known name; its data is prepared on first use.
    tfds_source.make_builder(spec.location, data_config.data_dir)


@dataclasses.dataclass
class NamedSources:
  """Several sources read as one: image_sources.Sources plus its parts."""
  train: tf.data.Dataset
  val: tf.data.Dataset  # Every source's validation split, one after another.
  skipped: "_MergedSkips"
  num_train: Optional[int]
  num_val: Optional[int]
  num_labels: int
  # {source name: its own Sources}, in --dataset order (one entry for a
  # single source).
  parts: Dict[str, image_sources.Sources]
  weights: List[float]


class _MergedSkips:
  """The unreadable files of every source, read like one SkipCounter."""

  def __init__(self, counters: Sequence[image_io.SkipCounter]):
    self._counters = list(counters)

  @property
  def count(self) -> int:
    return sum(counter.count for counter in self._counters)

  def items(self):
    return sorted(item for counter in self._counters
                  for item in counter.items())


def make_sources(data_config: config_lib.DataConfig, seed: int,
                 input_context: Optional[tf.distribute.InputContext] = None,
                 with_labels: bool = False) -> NamedSources:
  """The train and validation streams of one or several --dataset sources.

  Args:
    data_config: the data group; dataset may list several sources.
    seed: shuffling, split and mixing seed.
    input_context: shard the training streams per input pipeline.
    with_labels: the training stream yields (image, label) pairs, labels of
      the k-th source offset by the label counts of the sources before it.

  Returns:
    NamedSources: train mixes the sources by mixing_weights; val holds each
    source's validation split in --dataset order; parts keeps each source.

  Raises:
    ValueError: for a bad entry or weights (naming the flag).
  """
  specs = split_specs(data_config.dataset)
  names = source_names(specs)
  parts = {name: image_sources.make_sources(
      dataclasses.replace(data_config, dataset=spec), seed, input_context,
      with_labels) for name, spec in zip(names, specs)}
  sources = list(parts.values())
  if len(sources) == 1:
    only = sources[0]
    return NamedSources(only.train, only.val, _MergedSkips([only.skipped]),
                        only.num_train, only.num_val, only.num_labels, parts,
                        [1.0])
  weights = mixing_weights(data_config, specs,
                           [part.num_train for part in sources])
  streams, offset = [], 0
  for part in sources:
    streams.append(offset_labels(part.train, offset) if with_labels
                   else part.train)
    offset += part.num_labels
  val = sources[0].val
  for part in sources[1:]:
    val = val.concatenate(part.val)
  counts = [part.num_train for part in sources]
  val_counts = [part.num_val for part in sources]
  return NamedSources(
      train=mix(streams, weights, seed), val=val,
      skipped=_MergedSkips([part.skipped for part in sources]),
      num_train=sum(counts) if all(c is not None for c in counts) else None,
      num_val=(sum(val_counts) if all(c is not None for c in val_counts)
               else None),
      num_labels=offset, parts=parts, weights=weights)
