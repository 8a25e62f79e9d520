"""Tests for benchmarks/latency_lib.py and tools/guided_filter_check.py.

Each runs once end to end on a tiny export and generated photos.
"""

import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from benchmarks import latency_lib
from colorizer import presets
from colorizer.model import networks
from colorizer.serving import export
from tests import binaries
from tests import conftest


@pytest.fixture(scope="module")
def tiny_exports(tmp_path_factory):
  """{guided_upsample: version dir} of one untrained tiny generator."""
  config = presets.tiny()
  generator = networks.build_generator(config, seed=1)
  base_dir = str(tmp_path_factory.mktemp("savedmodels"))
  return {guided: export.export(generator, config, base_dir,
                                f"guided_{guided}", guided_upsample=guided)
          for guided in (True, False)}


def _run(module, *args, cwd=conftest.REPO_ROOT):
  result = subprocess.run(
      [sys.executable, "-m", module, *args], capture_output=True, text=True,
      timeout=300, cwd=cwd, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout


def _key_values(line: str) -> dict:
  return dict(item.split("=", 1) for item in line.split())


def test_percentiles_and_turn_taking():
  assert latency_lib.percentiles([1.0, 2.0, 3.0, 4.0, 5.0]) == (3.0, 4.8)
  calls = []
  seconds = latency_lib.time_models(
      {"a": lambda _: calls.append("a"), "b": lambda _: calls.append("b")},
      b"", warmup=1, repeats=3)
  assert calls == ["a", "b"] + ["a", "b"] * 3
  assert {name: len(values) for name, values in seconds.items()} == {
      "a": 3, "b": 3}


def test_synthetic_photo():
  rgb_uint8 = latency_lib.synthetic_photo(40, 30)
  assert rgb_uint8.shape == (30, 40, 3) and rgb_uint8.dtype == np.uint8
  assert rgb_uint8.std() > 10
  np.testing.assert_array_equal(rgb_uint8,
                                latency_lib.synthetic_photo(40, 30))


def test_serving_latency_end_to_end(tiny_exports):
  stdout = _run("benchmarks.serving_latency",
                f"--model={tiny_exports[False]}",
                f"--model={tiny_exports[True]}", "--sizes=64x48,33x17",
                "--warmup=1", "--repeats=2", "--stages")
  lines = stdout.splitlines()
  assert lines[0].startswith("cpu=")
  latency = [_key_values(line) for line in lines
             if line.startswith("name=serving_latency ")]
  assert [(row["model"], row["input"]) for row in latency] == [
      (tiny_exports[False], "64x48"), (tiny_exports[True], "64x48"),
      (tiny_exports[False], "33x17"), (tiny_exports[True], "33x17")]
  assert all(0 < float(row["p50_s"]) <= float(row["p95_s"])
             for row in latency)
  assert sum(line.startswith("name=serving_latency_ratio ")
             for line in lines) == 2
  stages = {_key_values(line).get("stage") for line in lines
            if line.startswith("name=serving_stage ")}
  assert {"decode", "l_star", "network", "upsample", "clamp_to_uint8",
          "png"} <= stages


def _photo_folder(root, count=2):
  os.makedirs(root)
  for index in range(count):
    Image.fromarray(latency_lib.synthetic_photo(90, 60, seed=index)).save(
        os.path.join(root, f"photo_{index}.jpg"), quality=95)
  return os.path.join(root, "*.jpg")


def test_guided_filter_check_end_to_end(tiny_exports, tmp_path):
  images = _photo_folder(str(tmp_path / "photos"))
  output_dir = tmp_path / "check"
  stdout = _run("tools.guided_filter_check", f"--images={images}",
                "--render_size=16", "--sigmas=8,16", "--radii=1",
                "--epsilons=1e-3", f"--output_dir={output_dir}",
                "--sheet_images=1", "--crop=24")
  assert "| joint bilateral sigma=8 |" in stdout
  assert "| guided filter r=1 eps=0.001 |" in stdout
  with open(output_dir / "results.json") as f:
    results = json.load(f)
  assert results["num_images"] == 2
  assert [row["method"] for row in results["rows"]][0] == "bilinear"
  assert results["rows"][0]["ciede2000_gain"] == 0.0
  sheet = np.asarray(Image.open(output_dir / "edges.png"))
  assert sheet.shape[1] > 4 * 24 * 3
  assert os.path.exists(output_dir / "edges_photo_0.png")
  # With a model: it must have been exported without the edge-aware
  # upsampling, whose colorize_lab would not return the network's own a*b*.
  stdout = _run("tools.guided_filter_check", f"--images={images}",
                f"--model={tiny_exports[False]}", "--sheet_images=0")
  assert "| bilinear |" in stdout
  result = binaries.run_main("tools.guided_filter_check", f"--images={images}",
                             f"--model={tiny_exports[True]}")
  assert result.returncode == 1
  assert "--noguided_upsample" in result.stderr
