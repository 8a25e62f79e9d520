"""Tests of the export as other programs see it.

saved_model_cli lists its signatures, TensorFlow alone (no colorizer, no
tensorflow-io) runs it, and TF Serving's REST API serves what it serves in
process, where tensorflow_model_server is installed.
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
from PIL import Image
import pytest

from colorizer.serving import export
from tests.serving.conftest import decode_png
from tests.serving.conftest import encode
from tests.serving.conftest import MODEL_NAME
from tests.serving.conftest import pattern_rgb
from tests.serving.conftest import serve


def test_saved_model_cli_lists_signatures(version_dir):
  cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
  if not os.path.exists(cli):
    cli = shutil.which("saved_model_cli")
  if not cli:
    pytest.skip("saved_model_cli not installed next to this Python")
  result = subprocess.run([cli, "show", "--dir", version_dir, "--all"],
                          capture_output=True, text=True, timeout=120,
                          check=True)
  for name in (export.SERVING_SIGNATURE, export.RENDER_SIZE_SIGNATURE,
               export.LAB_SIGNATURE):
    assert f"signature_def['{name}']" in result.stdout
  for tensor in ("inputs['image_bytes']", "inputs['render_size']",
                 "outputs['colorized_bytes']", "inputs['l_star']",
                 "outputs['ab']"):
    assert tensor in result.stdout


_SELF_CONTAINED = """
import sys
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
png = tf.io.encode_png(tf.fill([5, 7, 3], tf.constant(90, tf.uint8)))
out = model.signatures["serving_default"](image_bytes=tf.reshape(png, [1]))
print(tuple(tf.io.decode_png(out["colorized_bytes"][0]).shape))
ab = model.signatures["colorize_lab"](l_star=tf.fill([1, 4, 6, 1], 50.0))["ab"]
print(tuple(ab.shape))
print(sorted(name for name in sys.modules
             if name.split(".")[0] in ("colorizer", "tensorflow_io")))
"""


def test_loads_and_runs_with_tensorflow_alone(version_dir, tmp_path):
  env = {key: value for key, value in os.environ.items()
         if key != "PYTHONPATH"}
  env["TF_CPP_MIN_LOG_LEVEL"] = "2"
  # cwd is not the repository, so colorizer cannot be imported even by
  # accident: the model has to run on core TensorFlow ops.
  result = subprocess.run([sys.executable, "-c", _SELF_CONTAINED, version_dir],
                          capture_output=True, text=True, timeout=180,
                          cwd=tmp_path, env=env)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.split("\n")[:3] == ["(5, 7, 3)", "(1, 4, 6, 2)", "[]"]


def _free_loopback_port() -> int:
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


def _http_json(url: str, payload=None, timeout: float = 30.0):
  data = None if payload is None else json.dumps(payload).encode()
  request = urllib.request.Request(
      url, data=data, headers={"Content-Type": "application/json"})
  with urllib.request.urlopen(request, timeout=timeout) as response:
    return json.load(response)


def test_tensorflow_model_server_rest(version_dir, loaded):
  server = shutil.which("tensorflow_model_server")
  if not server:
    pytest.skip("tensorflow_model_server not on PATH; runs where TF Serving "
                "is installed, e.g. the tensorflow/serving Docker image")
  grpc_port, rest_port = _free_loopback_port(), _free_loopback_port()
  # TF Serving has no flag to pick the interface (gRPC listens on 0.0.0.0);
  # this test only ever connects to 127.0.0.1.
  process = subprocess.Popen(
      [server, f"--port={grpc_port}", f"--rest_api_port={rest_port}",
       f"--model_name={MODEL_NAME}",
       f"--model_base_path={os.path.dirname(os.path.abspath(version_dir))}"],
      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  model_url = f"http://127.0.0.1:{rest_port}/v1/models/{MODEL_NAME}"
  try:
    deadline = time.monotonic() + 120
    while True:
      if process.poll() is not None:
        pytest.fail(f"tensorflow_model_server exited: "
                    f"{process.stderr.read().decode()[-2000:]}")
      try:
        states = [version["state"] for version in
                  _http_json(model_url, timeout=5)["model_version_status"]]
        if "AVAILABLE" in states:
          break
      except (urllib.error.URLError, ConnectionError, KeyError):
        pass
      if time.monotonic() > deadline:
        pytest.fail("TF Serving did not make the model AVAILABLE in 120 s")
      time.sleep(0.5)
    rgb_uint8 = pattern_rgb(21, 34)
    png_bytes = encode(Image.fromarray(rgb_uint8), "PNG")
    b64 = base64.b64encode(png_bytes).decode()
    rows = _http_json(model_url + ":predict", {"instances": [{"b64": b64}]})
    served = base64.b64decode(rows["predictions"][0]["b64"])
    [in_process] = serve(loaded, [png_bytes])
    np.testing.assert_allclose(decode_png(served), decode_png(in_process),
                               atol=1)
    columns = _http_json(model_url + ":predict", {
        "signature_name": export.RENDER_SIZE_SIGNATURE,
        "inputs": {"image_bytes": [{"b64": b64}], "render_size": 64}})
    at_64 = decode_png(base64.b64decode(columns["outputs"][0]["b64"]))
    assert at_64.shape == rgb_uint8.shape
  finally:
    process.terminate()
    try:
      process.wait(timeout=20)
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()
