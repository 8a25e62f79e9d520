"""Tests for colorizer.web.backends' TF Serving forwarding, on a fake one.

The fake answers TF Serving's REST predict API on 127.0.0.1 (fake_serving,
also used by tests/web/test_web_browser.py); the page forwards to it.
"""

import base64
import http.server
import io
import json
import socket
import threading

from PIL import Image
import pytest

from colorizer.web import backends
from colorizer.web import server
from tests.web import test_web


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


def _closed_port():
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


def test_serving_url_forwarding(fake_serving):
  url = fake_serving.url
  client = server.create_app(
      backends.serving_colorizer(url)).test_client()
  response = client.post("/api/colorize", data=test_web.form_files(
      ("a.jpg", test_web.photo(30, 20, "JPEG")),
      ("b.tif", test_web.photo(11, 19, "TIFF"))))
  assert response.status_code == 200, response.json
  assert [test_web.png_size(base64.b64decode(result["png_base64"]))
          for result in response.json["results"]] == [(30, 20), (11, 19)]
  content_type, body = fake_serving.requests[-1]
  assert content_type == "application/json"
  assert list(body) == ["instances"] and len(body["instances"]) == 2
  # The TIFF was re-encoded as PNG: TF Serving's decoder reads no TIFF.
  assert all(base64.b64decode(row["b64"]).startswith(b"\x89PNG")
             for row in body["instances"])
  assert client.get("/healthz").json["backend"] == url

  refused = client.post("/", data=test_web.form_files(
      ("wide.png", test_web.photo(13, 4))))
  assert refused.status_code == 400
  assert (f"TF Serving at {url} answered HTTP 400: image is larger than the "
          "pixel limit") in refused.get_data(as_text=True)


def test_serving_errors(fake_serving):
  missing = backends.serving_colorizer(
      fake_serving.base_url + "/v1/models/missing:predict")
  with pytest.raises(backends.ColorizeError,
                     match="HTTP 404: Servable not found") as error:
    missing([test_web.photo(6, 4)])
  assert error.value.status_code == 502
  unreachable = backends.serving_colorizer(
      f"http://127.0.0.1:{_closed_port()}/v1/models/demo:predict")
  with pytest.raises(backends.ColorizeError,
                     match="Cannot reach TF Serving"):
    unreachable([test_web.photo(6, 4)])
  with pytest.raises(ValueError, match="http"):
    backends.serving_colorizer("localhost:8501/v1/models/demo:predict")
