"""tfds: sources prepare their dataset on first use; failures are one line.

Nothing here downloads: tfds.testing.mock_data stands in for the data, and
the builder's download_and_prepare is replaced by one that records or fails.
"""


import pytest
import tensorflow_datasets as tfds

from colorizer import presets
from colorizer.data import image_sources
from colorizer.data import mixture
from colorizer.data import tfds_source

_CIFAR10 = tfds.builder_cls("cifar10")


def _data_config(dataset="tfds:cifar10", data_dir=""):
  return presets.tiny().data.__class__(
      dataset=dataset, data_dir=data_dir, image_size=32, train_crop="resize",
      shuffle_buffer=16, val_fraction=0.25)


@pytest.fixture(name="fake_download")
def _fake_download(monkeypatch):
  """CIFAR-10 is unprepared until its download_and_prepare runs; counts calls.

  Patched on the CIFAR-10 builder class (not DatasetBuilder, which mock_data
  patches too), so undoing it cannot leave another patch behind.
  """
  state = {"calls": 0, "error": None}

  def download_and_prepare(builder, **kwargs):
    del builder, kwargs
    state["calls"] += 1
    if state["error"]:
      raise state["error"]

  monkeypatch.setattr(_CIFAR10, "is_prepared",
                      lambda builder: state["calls"] > 0)
  monkeypatch.setattr(_CIFAR10, "download_and_prepare", download_and_prepare)
  return state


def test_prepared_dataset_is_read_without_downloading(fake_download,
                                                      monkeypatch):
  monkeypatch.setattr(_CIFAR10, "is_prepared", lambda builder: True)
  with tfds.testing.mock_data(num_examples=8,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    sources = image_sources.make_sources(_data_config(), seed=0)
    assert next(iter(sources.train)).shape == (32, 32, 3)
  assert fake_download["calls"] == 0


def test_unprepared_dataset_is_prepared_once(fake_download, monkeypatch):
  # Recorded at the call: caplog misses absl's lines once another test in
  # the same process (xdist) has run an absl binary.
  messages = []
  monkeypatch.setattr(tfds_source.logging, "info",
                      lambda message, *args: messages.append(message % args))
  with tfds.testing.mock_data(num_examples=8,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    sources = image_sources.make_sources(_data_config(), seed=0)
    assert fake_download["calls"] == 1
    assert next(iter(sources.train)).shape == (32, 32, 3)
    # A second run (or colorizer-evaluate) finds it prepared.
    image_sources.make_sources(_data_config(), seed=0)
  assert fake_download["calls"] == 1
  assert any("--dataset=tfds:cifar10 is not prepared in" in message
             and "downloading and preparing it there" in message
             for message in messages)


@pytest.mark.parametrize("error", [
    ConnectionError("Failed to establish a new connection to "
                    "https://www.cs.toronto.edu\nRetries exhausted"),
    ModuleNotFoundError("No module named 'apache_beam'"),
    AssertionError("Manual directory /x/downloads/manual does not exist.\n"
                   "Download the files from the website first."),
])
def test_failed_download_is_one_line_naming_the_flag(fake_download, tmp_path,
                                                      error):
  fake_download["error"] = error
  with pytest.raises(ValueError) as raised:
    image_sources.make_sources(_data_config(data_dir=str(tmp_path)), seed=0)
  message = str(raised.value)
  assert "\n" not in message
  assert message.startswith("--dataset=tfds:cifar10: cannot download and "
                            f"prepare it into {tmp_path} ")
  assert str(error).splitlines()[0] in message
  assert type(error).__name__ in message
  assert raised.value.__cause__ is None and raised.value.__suppress_context__
  assert fake_download["calls"] == 1


def test_unknown_dataset_is_one_line_in_validation_and_at_load(tmp_path):
  config = _data_config("tfds:no_such_dataset_xyz", data_dir=str(tmp_path))
  expected = "--dataset=tfds:no_such_dataset_xyz: Dataset no_such_dataset_xyz "
  for check in (lambda: mixture.check_sources(config),
                lambda: image_sources.make_sources(config, seed=0)):
    with pytest.raises(ValueError, match=expected) as raised:
      check()
    assert "\n" not in str(raised.value)
  with pytest.raises(ValueError, match="--dataset=tfds:cifar10/nope: "):
    tfds_source.make_builder("cifar10/nope", str(tmp_path))
  # A known name passes validation without downloading anything.
  mixture.check_sources(_data_config(data_dir=str(tmp_path)))
  assert not list(tmp_path.iterdir())
