"""Class labels for --label_weight: where each --dataset source keeps them.

  npz:PATH     an integer `labels` [N] array beside `images`;
  folder:PATH  one subfolder of PATH per class (PATH/<class>/**/image), the
               layout of Keras' image_dataset_from_directory; labels are the
               subfolders' indices in sorted order;
  tfds:NAME    the dataset's ClassLabel feature (read in image_sources).

Every refusal is one line that names --label_weight and says how to train
without labels.
"""

import os

import numpy as np

LABELS_KEY = "labels"  # The npz array.
NO_LABELS_HINT = "pass --label_weight=0 to train without labels"


def _class_folder(location: str, path: str) -> str:
  """The subfolder of location that path lies in; "" if directly in it."""
  parts = os.path.relpath(path, location).split(os.sep)
  return parts[0] if len(parts) > 1 else ""


def folder_class_names(location: str, paths) -> list:
  """The classes of a labelled folder: its subfolders' names, sorted.

  An image's label is the index of the subfolder of location it lies in
  (at any depth below it).

  Raises:
    ValueError: one line naming --label_weight if an image lies directly in
      location, or there are fewer than two classes.
  """
  folders = [_class_folder(location, path) for path in paths]
  loose = [os.path.basename(path) for path, folder in zip(paths, folders)
           if not folder]
  if loose:
    raise ValueError(f"--label_weight: --dataset=folder:{location} has "
                     f"{len(loose)} image(s) outside class subfolders (e.g. "
                     f"{loose[0]}); put each class in its own subfolder, or "
                     f"{NO_LABELS_HINT}.")
  names = sorted(set(folders))
  if len(names) < 2:
    raise ValueError(f"--label_weight: --dataset=folder:{location} needs one "
                     f"subfolder per class and has {len(names)}; "
                     f"{NO_LABELS_HINT}.")
  return names


def folder_labels(location: str, paths, class_names) -> list:
  """Each path's label: the index of its class subfolder in class_names."""
  index = {name: label for label, name in enumerate(class_names)}
  return [index[_class_folder(location, path)] for path in paths]


def load_npz_labels(path: str, num_images: int) -> np.ndarray:
  """int32 [N] class labels in [0, K) from the npz's `labels` array."""
  with np.load(path, allow_pickle=False) as arrays:
    labels = arrays[LABELS_KEY]
  if (not np.issubdtype(labels.dtype, np.integer) or labels.shape != (
      num_images,) or labels.min(initial=0) < 0):
    raise ValueError(f"--label_weight: '{LABELS_KEY}' in --dataset=npz:"
                     f"{path} must be non-negative integers [{num_images}], "
                     f"got {labels.dtype} {labels.shape}.")
  return labels.astype(np.int32)
