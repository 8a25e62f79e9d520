"""Tests of export's versions: numbered, never overwritten, never half written.

And the export binary, which restores a run's checkpoint as the next version.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from colorizer import config as config_lib
from colorizer.model import networks
from colorizer.serving import export
from colorizer.serving import full_resolution
from tests import conftest
from tests.serving.conftest import AB_ATOL
from tests.serving.conftest import MODEL_NAME
from tests.serving.conftest import RENDER_SIZE

REPO_ROOT = conftest.REPO_ROOT


def test_existing_version_is_refused(generator, config, base_dir, version_dir):
  with pytest.raises(ValueError, match="already exists"):
    export.export(generator, config, base_dir, MODEL_NAME,
                  version=int(os.path.basename(version_dir)))


def test_render_size_must_fit_the_unet(generator, config, tmp_path):
  with pytest.raises(ValueError, match="multiple of 32"):
    export.export(generator, config, str(tmp_path), "x", render_size=48)
  assert not os.path.exists(tmp_path / "x")


def test_next_version_ignores_temp_and_other_dirs(tmp_path):
  assert export.next_version(str(tmp_path / "missing")) == 1
  for name in ("2", "10", ".tmp-11-123-456", "notes", "3a"):
    (tmp_path / name).mkdir()
  assert export.next_version(str(tmp_path)) == 11


def test_failed_export_leaves_no_version_and_no_temp_dir(
    generator, config, tmp_path, monkeypatch):
  def half_written_save(module, export_dir, signatures=None, **unused):
    del module, signatures, unused
    os.makedirs(os.path.join(export_dir, "variables"))
    with open(os.path.join(export_dir, "saved_model.pb"), "wb") as f:
      f.write(b"partial")
    raise OSError("disk full")

  monkeypatch.setattr(tf.saved_model, "save", half_written_save)
  with pytest.raises(OSError, match="disk full"):
    export.export(generator, config, str(tmp_path), "failing")
  assert os.listdir(tmp_path / "failing") == []


def test_export_binary_restores_checkpoint_as_next_version(
    generator, config, base_dir, version_dir, tmp_path):
  # With --test_time_flip, which a run that did not use it can still ask for,
  # and --noguided_upsample.
  model_dir = str(tmp_path / "run")
  config_lib.save(config, model_dir)
  tf.train.Checkpoint(generator=generator,
                      step=tf.Variable(7, dtype=tf.int64)).save(
                          os.path.join(model_dir, "checkpoints", "ckpt"))
  result = subprocess.run(
      [sys.executable, "-m", "pipelines.export", f"--model_dir={model_dir}",
       f"--base_dir={base_dir}", f"--name={MODEL_NAME}", "--test_time_flip",
       "--noguided_upsample"],
      capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert result.returncode == 0, result.stderr[-3000:]
  next_dir = os.path.join(base_dir, MODEL_NAME,
                          str(int(os.path.basename(version_dir)) + 1))
  assert f"Exported {next_dir}" in result.stdout
  assert sorted(os.listdir(os.path.join(base_dir, MODEL_NAME))) == [
      os.path.basename(version_dir), os.path.basename(next_dir)]
  with open(os.path.join(next_dir, "assets.extra",
                         export.METADATA_FILE)) as f:
    metadata = json.load(f)
  assert metadata["step"] == 7
  assert metadata["guided_upsample"] is False
  assert metadata["config"]["model"]["test_time_flip"]
  assert not config.model.test_time_flip
  l_star = tf.random.stateless_uniform([1, 20, 24, 1], seed=[3, 4],
                                       maxval=100.0)
  restored = tf.saved_model.load(next_dir).signatures[export.LAB_SIGNATURE]
  np.testing.assert_allclose(
      restored(l_star=l_star)["ab"].numpy(),
      full_resolution.predict_ab(
          networks.inference_fn(generator, test_time_flip=True), l_star,
          RENDER_SIZE, guided_upsample=False).numpy(),
      atol=AB_ATOL)
