"""Fixtures of tests/web, and the `slow` marker.

version_dir: an untrained tiny generator, exported once per test module;
model_app: the page on it. fake_serving: TF Serving's REST predict API,
faked on 127.0.0.1. Tests marked `slow` build and install a wheel or run a
load; deselect them with `pytest -m "not slow"`.
"""

import base64
import http.server
import io
import json
import threading

from PIL import Image
import pytest

from colorizer import presets
from colorizer.model import networks
from colorizer.serving import export
from colorizer.web import backends
from colorizer.web import server
from tests.web import test_web


def pytest_configure(config):
  config.addinivalue_line(
      "markers", "slow: builds and installs a wheel or runs a load; tens of "
      "seconds (deselect with -m 'not slow').")


@pytest.fixture(scope="module")
def version_dir(tmp_path_factory):
  config = presets.tiny()
  generator = networks.build_generator(config)
  return export.export(generator, config,
                       str(tmp_path_factory.mktemp("savedmodels")), "tiny")


@pytest.fixture(scope="module")
def model_app(version_dir):
  return server.create_app(backends.saved_model_colorizer(version_dir))


class _FakeServing(http.server.BaseHTTPRequestHandler):
  """TF Serving's REST predict, for serving_default, in a few lines."""

  def do_POST(self):  # pylint: disable=invalid-name
    if not self.path.startswith("/v1/models/demo:predict"):
      return self._reply(404, {"error": "Servable not found for request: "
                                        "Latest(missing)"})
    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
    self.server.requests.append((self.headers["Content-Type"], body))
    images = [base64.b64decode(row["b64"]) for row in body["instances"]]
    if any(Image.open(io.BytesIO(image)).width == 13 for image in images):
      return self._reply(400, {"error": "image is larger than the pixel limit"})
    return self._reply(200, {"predictions": [
        {"b64": base64.b64encode(png).decode()}
        for png in test_web.echo_colorizer(images)]})

  def _reply(self, status, payload):
    data = json.dumps(payload).encode()
    self.send_response(status)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def log_message(self, *args):
    pass


@pytest.fixture(scope="module")
def fake_serving():
  """A fake TF Serving on 127.0.0.1; .url is its predict URL for demo."""
  fake = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeServing)
  fake.requests = []
  fake.base_url = f"http://127.0.0.1:{fake.server_port}"
  fake.url = fake.base_url + "/v1/models/demo:predict"
  thread = threading.Thread(target=fake.serve_forever, daemon=True)
  thread.start()
  yield fake
  fake.shutdown()
  fake.server_close()
