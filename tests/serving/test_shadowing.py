"""A training run never silently replaces the shipped photo model.

TF Serving, colorizer-colorize --model=savedmodels/photos and colorizer-web
load a model's highest version, so an export to savedmodels/photos/2 would
replace the shipped savedmodels/photos/1 unasked (issue #24).
"""

import datetime
import json
import os

import pytest

from colorizer import config as config_lib
from colorizer import flags_lib
from colorizer import presets
from colorizer.model import networks
from colorizer.serving import colorize_lib
from colorizer.serving import export
from colorizer.serving import shipped
from tests import binaries
from tests import conftest

# The photos preset (which used to export to savedmodels/photos), made tiny.
_TINY_PHOTOS_FLAGS = [
    "--preset=photos", "--dataset=demo", "--image_size=32",
    "--base_filters=8", "--max_filters=32", "--batch_size=4",
    "--train_steps=2", "--log_every=2", "--save_every=2", "--eval_every=0",
    "--eval_batches=1", "--prior_batches=1", "--shuffle_buffer=64",
    "--train_crop=resize", "--strategy=default", "--mixed_precision=none"]


def _line_after(text: str, prefix: str) -> str:
  lines = [line for line in text.splitlines() if line.startswith(prefix)]
  assert len(lines) == 1, text
  return lines[0][len(prefix):].strip()


def test_a_run_named_photos_exports_beside_the_shipped_model(
    tmp_path, monkeypatch, caplog):
  monkeypatch.chdir(tmp_path)
  config = presets.tiny()
  shipped_version = export.export(networks.build_generator(config), config,
                                  "savedmodels", "photos", version=1)

  result = binaries.run_main("pipelines.train", "--model_dir=runs/photos",
                             *_TINY_PHOTOS_FLAGS)

  assert result.returncode == 0, result.stderr[-3000:]
  # The shipped copy is still what every default resolves to, alone.
  shipped_dir = shipped.shipped_model_dir()
  assert os.path.samefile(shipped_dir, tmp_path / "savedmodels" / "photos")
  assert os.listdir(shipped_dir) == ["1"]
  assert os.path.samefile(colorize_lib.resolve_model_path(shipped_dir),
                          shipped_version)
  # The run's export is where the last lines say, with the command to use it.
  last_lines = result.stdout.strip().splitlines()[-2:]
  export_dir = _line_after(last_lines[0], "SavedModel (TF Serving layout):")
  assert export_dir == os.path.join("savedmodels", "my_photos", "1")
  assert os.path.exists(os.path.join(export_dir, "saved_model.pb"))
  assert last_lines[1].endswith(
      "colorizer-colorize --model=savedmodels/my_photos --input=PHOTO "
      "--output_dir=out")
  assert "shipped model's name" in caplog.text
  metadata = export.read_metadata(export_dir)
  assert metadata["preset"] == "photos" and metadata["step"] == 2
  exported = datetime.datetime.fromisoformat(metadata["exported"])
  assert exported.utcoffset() == datetime.timedelta(0)
  assert config_lib.load_preset("runs/photos") == "photos"

  # Colorizing with the default photo model names the shipped version.
  conftest.write_files(tmp_path / "in", {
      "a.png": lambda: conftest.encoded(conftest.random_photo(20, 24),
                                        "PNG")})
  colorized = binaries.run_main(
      "pipelines.colorize", "--model=savedmodels/photos", "--input=in",
      "--output_dir=out", "--noprogress")
  assert colorized.returncode == 0, colorized.stderr[-3000:]
  assert colorized.stdout.splitlines()[0] == (
      "Using savedmodels/photos version 1 (step unknown, preset unknown, "
      f"exported {export.read_metadata(shipped_version)['exported']})")

  # Asked for by name, an export goes to photos: the user's explicit choice
  # (colorizer-export --name=photos). Only the name matters here: the
  # SavedModel itself is not written.
  names = []

  def record_name(generator, config, base_dir, name, **unused):
    del generator, config, base_dir, unused
    names.append(name)

  monkeypatch.setattr(export, "export", record_name)
  export.export_from_model_dir("runs/photos", name="photos")
  export.export_from_model_dir("runs/photos")
  assert names == ["photos", "my_photos"]


@pytest.mark.parametrize("model_dir,configured,expected", [
    ("runs/bsds300", config_lib.EXPORT_NAME_AUTO, "bsds300"),
    ("runs/photos/", config_lib.EXPORT_NAME_AUTO, "my_photos"),
    ("runs/photos", "", "my_photos"),
    # A config written before presets exported automatically.
    ("runs/imagenette", "photos", "my_photos"),
    ("runs/x", "demo", "demo"),
])
def test_default_name_is_the_runs_and_never_a_shipped_models(
    model_dir, configured, expected):
  assert export.default_name(model_dir, configured) == expected


def test_presets_export_under_the_runs_name():
  for name in ("demo", "cifar10", "photos"):
    assert presets.preset(name).export.export_name == \
        config_lib.EXPORT_NAME_AUTO
  # The quickstart's run dir, hence its export: savedmodels/demo.
  run_dir = flags_lib.default_model_dir(presets.demo().data.dataset)
  assert export.default_name(run_dir, config_lib.EXPORT_NAME_AUTO) == "demo"


def test_config_records_the_preset_and_reads_old_files(tmp_path):
  config = presets.tiny()
  config_lib.save(config, str(tmp_path / "new"), preset="tiny")
  assert config_lib.load(str(tmp_path / "new")) == config
  assert config_lib.load_preset(str(tmp_path / "new")) == "tiny"
  old = tmp_path / "old"
  old.mkdir()
  (old / config_lib.CONFIG_FILENAME).write_text(json.dumps(config.to_dict()))
  assert config_lib.load(str(old)) == config
  assert config_lib.load_preset(str(old)) == ""


def test_describe_export_says_unknown_for_what_old_metadata_lacks(tmp_path):
  extra = tmp_path / "demo" / "3" / "assets.extra"
  extra.mkdir(parents=True)
  (extra / export.METADATA_FILE).write_text(json.dumps({"step": 0}))
  assert export.describe_export(str(tmp_path / "demo" / "3")) == (
      f"{tmp_path / 'demo'} version 3 (step 0, preset unknown, exported "
      "unknown)")
