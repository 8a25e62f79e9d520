"""Tests for colorizer.web.backends' TF Serving forwarding, on a fake one.

The fake (the fake_serving fixture, tests/web/conftest.py) answers TF
Serving's REST predict API on 127.0.0.1; the page forwards to it.
"""

import base64
import socket

import pytest

from colorizer.web import backends
from colorizer.web import server
from tests.web import test_web


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
