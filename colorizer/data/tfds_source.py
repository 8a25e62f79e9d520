"""The TFDS builder behind a `--dataset=tfds:NAME[:SPLIT]` source.

Like `tfds.load`, the first run downloads and prepares the dataset into
--data_dir (TFDS's default, ~/tensorflow_datasets, when empty); later runs read
it from there. Every failure is one line naming --dataset=tfds:NAME.
"""

from absl import logging


def _reason(error: Exception) -> str:
  """The first line of an error's message, or its type when it has none."""
  lines = str(error).strip().splitlines()
  return lines[0].strip() if lines else type(error).__name__


def make_builder(name: str, data_dir: str):
  """The TFDS builder of a dataset name, without downloading anything.

  Args:
    name: NAME of --dataset=tfds:NAME, with its config if any
      (imagenette/320px-v2).
    data_dir: --data_dir; empty for TFDS's default.

  Returns:
    tfds.core.DatasetBuilder.

  Raises:
    ValueError: one line naming --dataset, for a name or config TFDS does
      not know.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  try:
    return tfds.builder(name, data_dir=data_dir or None)
  except ValueError as error:  # DatasetNotFoundError or a config not found.
    raise ValueError(f"--dataset=tfds:{name}: {_reason(error)}") from None


def prepared_builder(name: str, data_dir: str):
  """make_builder's builder, its data downloaded and prepared if not yet.

  Raises:
    ValueError: one line naming --dataset, for an unknown name or when
      preparing fails (no network, a dataset that needs a manual download,
      a missing optional dependency such as apache_beam).
  """
  builder = make_builder(name, data_dir)
  if builder.is_prepared():
    return builder
  logging.info("--dataset=tfds:%s is not prepared in %s: downloading and "
               "preparing it there, once (later runs reuse it).", name,
               builder.data_dir_root)
  try:
    builder.download_and_prepare()
  except Exception as error:  # pylint: disable=broad-except
    # Anything TFDS or a dataset's own code raises while downloading and
    # preparing: the user needs its first line, not the traceback.
    raise ValueError(
        f"--dataset=tfds:{name}: cannot download and prepare it into "
        f"{builder.data_dir_root} ({type(error).__name__}: {_reason(error)})."
    ) from None
  return builder
