"""Tests for colorizer.web.server, and the helpers of every test in tests/web.

An untrained tiny generator is exported once per module (the version_dir
fixture, tests/web/conftest.py) and served through the page: what is checked
is the plumbing (every route and error, sizes, concurrency). Elsewhere in
tests/web: the TF Serving backend (test_backends.py), the bounded queue
(test_admission.py), the binary and a real browser (test_web_browser.py),
the load (test_web_load.py) and the installed wheel (test_web_package.py).
chromium_driver and wait_for_results also serve tools/make_web_screenshot.py.
"""

import base64
import concurrent.futures
import io
import os
import re
import threading

import numpy as np
from PIL import Image
import pytest
import werkzeug.formparser
import werkzeug.wrappers.request

from colorizer.web import backends
from colorizer.web import server
from tests import conftest

REPO_ROOT = conftest.REPO_ROOT
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def photo(width, height, image_format="PNG", seed=0, mode="L"):
  """Encoded bytes of a random photo (gray by default) of that size."""
  return conftest.encoded(conftest.random_photo(height, width, seed),
                          image_format, mode=mode)


def png_size(png_bytes):
  """(width, height) of PNG bytes; fails on any other format."""
  with Image.open(io.BytesIO(png_bytes)) as image:
    assert image.format == "PNG"
    return image.size


def form_files(*named_bytes, field="image"):
  return {field: [(io.BytesIO(data), name) for name, data in named_bytes]}


def echo_colorizer(images):
  """Stands in for a model: the input, as an RGB PNG."""
  outputs = []
  for image_bytes in images:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(image_bytes)).convert("RGB").save(buffer, "PNG")
    outputs.append(buffer.getvalue())
  return outputs


@pytest.fixture
def client(model_app):
  return model_app.test_client()


def test_page_and_assets(client):
  page = client.get("/")
  assert page.status_code == 200
  html = page.get_data(as_text=True)
  assert re.search(r'<input[^>]*type="file"[^>]*accept="image/\*" multiple',
                   html)
  assert 'id="drop-zone"' in html and ">Colorize</button>" in html
  assert "'self'" in page.headers["Content-Security-Policy"]
  # The policy forbids inline code: every script and style is a file.
  assert not re.search(r"<script>|<style|\sstyle=|\son\w+=", html)
  assert html.startswith("<!doctype html>")  # The template's comment is gone.
  assets = dict((url.rsplit(".", 1)[-1], url) for url in re.findall(
      r'<(?:link rel="(?:stylesheet|icon)"[^>]*?|script) (?:href|src)'
      r'="([^"]+)"', html))
  assert assets == {"css": "/static/style.css", "svg": "/static/favicon.svg",
                    "js": "/static/app.js"}
  script, stylesheet = client.get(assets["js"]), client.get(assets["css"])
  assert script.status_code == stylesheet.status_code == 200
  assert script.mimetype == "text/javascript" and b"/api/colorize" not in (
      script.data)  # The URL comes from the page, not hard-coded.
  assert script.data.startswith(b"// ") and b'"use strict";' in script.data
  assert stylesheet.mimetype == "text/css" and b".drop-zone" in (
      stylesheet.data)
  favicon = client.get(assets["svg"])
  assert favicon.status_code == 200 and favicon.mimetype == "image/svg+xml"
  for asset in (script, stylesheet, favicon):
    assert asset.headers["Content-Security-Policy"] == page.headers[
        "Content-Security-Policy"]
    assert asset.headers["X-Content-Type-Options"] == "nosniff"
  assert client.get("/static/missing.js").status_code == 404
  assert client.get("/static/../server.py").status_code == 404


def test_healthz(client, version_dir):
  response = client.get("/healthz")
  assert response.status_code == 200
  assert response.json == {"status": "ok", "backend": version_dir}


@pytest.mark.parametrize("image_format,width,height",
                         [("PNG", 47, 33), ("JPEG", 64, 40), ("TIFF", 30, 52)])
def test_api_colorizes_at_full_size(client, image_format, width, height):
  data = photo(width, height, image_format)
  response = client.post("/api/colorize",
                         data=form_files((f"photo.{image_format}", data)))
  assert response.status_code == 200, response.json
  [result] = response.json["results"]
  assert (result["width"], result["height"]) == (width, height)
  assert png_size(base64.b64decode(result["png_base64"])) == (width, height)


def test_api_format_png(client):
  response = client.post("/api/colorize?format=png",
                         data=form_files(("../../etc/scan.jpg",
                                      photo(50, 20, "JPEG"))))
  assert response.status_code == 200 and response.mimetype == "image/png"
  assert png_size(response.data) == (50, 20)
  assert "scan_colorized.png" in response.headers["Content-Disposition"]
  two = client.post("/api/colorize?format=png", data=form_files(
      ("a.png", photo(8, 8)), ("b.png", photo(8, 8))))
  assert two.status_code == 400 and "exactly one" in two.json["error"]


def test_multiple_files_in_order(client):
  sizes = [(40, 30), (17, 61), (64, 64)]
  uploads = [(f"p{index}.png", photo(*size, seed=index))
             for index, size in enumerate(sizes)]
  response = client.post("/api/colorize", data=form_files(*uploads))
  assert response.status_code == 200
  results = response.json["results"]
  assert [result["name"] for result in results] == ["p0.png", "p1.png",
                                                     "p2.png"]
  assert [png_size(base64.b64decode(result["png_base64"]))
          for result in results] == sizes


def test_form_fallback_renders_results(client):
  response = client.post("/", data=form_files(("a.webp", photo(40, 24, "WEBP")),
                                          ("b.jpg", photo(24, 40, "JPEG"))))
  assert response.status_code == 200
  html = response.get_data(as_text=True)
  colorized = re.findall(
      r'<img class="colorized"\s+src="data:image/png;base64,([^"]+)"', html)
  assert [png_size(base64.b64decode(data)) for data in colorized] == [
      (40, 24), (24, 40)]
  assert 'download="a_colorized.png"' in html
  assert 'download="b_colorized.png"' in html


def test_empty_submission(client):
  api = client.post("/api/colorize", data={})
  assert api.status_code == 400 and "No photo received" in api.json["error"]
  # A browser's form with no file chosen still sends an empty, unnamed part.
  form = client.post("/", data=form_files(("", b"")))
  assert form.status_code == 400
  assert "No photo received" in form.get_data(as_text=True)


def test_non_image_is_refused_with_message(client):
  name = "<img src=x onerror=alert(1)>.png"
  form = client.post("/", data=form_files((name, b"just some text\n" * 20)))
  assert form.status_code == 400
  html = form.get_data(as_text=True)
  assert "&lt;img src=x onerror=alert(1)&gt;.png is not an image" in html
  assert "<img src=x" not in html
  # Only the last path component of an uploaded name is ever used.
  traversal = client.post("/", data=form_files(("../../etc/x.txt", b"text")))
  assert "x.txt is not an image" in traversal.get_data(as_text=True)
  assert "../" not in traversal.get_data(as_text=True)
  api = client.post("/api/colorize", data=form_files(
      ("good.png", photo(8, 8)), ("empty.jpg", b"")))
  assert api.status_code == 400 and api.json["error"] == "empty.jpg is empty."


def test_too_large_is_413_with_message():
  app = server.create_app(echo_colorizer, max_upload_bytes=2**19)
  client = app.test_client()
  data = np.random.RandomState(0).bytes(2**19 + 1)
  form = client.post("/", data=form_files(("big.png", data)))
  assert form.status_code == 413
  assert "over the 0.5 MB limit" in form.get_data(as_text=True)
  api = client.post("/api/colorize", data=form_files(("big.png", data)))
  assert api.status_code == 413 and "limit" in api.json["error"]


def test_wrong_method_is_405(client):
  assert client.put("/").status_code == 405
  assert client.post("/healthz").status_code == 405
  api = client.get("/api/colorize")
  assert api.status_code == 405 and "use POST" in api.json["error"]


def test_uploads_stay_off_disk(monkeypatch):
  def no_disk(*args, **kwargs):
    raise AssertionError("an upload was spooled to disk")
  # werkzeug makes every upload's stream with this: a spooled temporary file.
  monkeypatch.setattr(werkzeug.formparser, "default_stream_factory", no_disk)
  monkeypatch.setattr(werkzeug.wrappers.request, "default_stream_factory",
                      no_disk)
  noise = np.random.RandomState(0).randint(0, 256, (400, 600, 3), np.uint8)
  data = conftest.encoded(noise, "PNG")
  assert len(data) > 600_000  # werkzeug spools parts over 500 KiB.
  client = server.create_app(echo_colorizer).test_client()
  response = client.post("/api/colorize", data=form_files(("noise.png", data)))
  assert response.status_code == 200


def test_backend_errors():
  def refuse(images):
    raise backends.ColorizeError("The model refused an image: too big")

  def wrong_size(images):
    return [photo(5, 5) for _ in images]

  def crash(images):
    raise RuntimeError("out of memory")

  cases = [(refuse, 400, "too big"), (wrong_size, 502, "5x5 for a.png (9x7)"),
           (crash, 500, "failed unexpectedly")]
  for colorize_fn, status, message in cases:
    client = server.create_app(colorize_fn).test_client()
    response = client.post("/api/colorize",
                           data=form_files(("a.png", photo(9, 7))))
    assert response.status_code == status
    assert message in response.json["error"]


def test_concurrent_requests(model_app):
  sizes = [(20 + 7 * index, 50 - 3 * index) for index in range(8)]

  def post(size):
    client = model_app.test_client()
    response = client.post("/api/colorize?format=png",
                           data=form_files(("p.png", photo(*size))))
    return response.status_code, png_size(response.data)

  with concurrent.futures.ThreadPoolExecutor(8) as pool:
    answers = list(pool.map(post, sizes))
  assert answers == [(200, size) for size in sizes]


def test_model_calls_are_bounded():
  lock, running, peak = threading.Lock(), [0], [0]

  def counting(images):
    with lock:
      running[0] += 1
      peak[0] = max(peak[0], running[0])
    threading.Event().wait(0.05)
    with lock:
      running[0] -= 1
    return echo_colorizer(images)

  app = server.create_app(counting, max_concurrent=2)
  with concurrent.futures.ThreadPoolExecutor(6) as pool:
    codes = list(pool.map(lambda _: app.test_client().post(
        "/api/colorize", data=form_files(("a.png", photo(8, 8)))).status_code,
                          range(6)))
  assert codes == [200] * 6 and peak[0] == 2


def chromium_driver(user_data_dir, window_size=(1200, 900)):
  """Headless Chromium that only ever talks to 127.0.0.1.

  Skips the calling test when Chromium or chromedriver is not installed.
  """
  if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("chromium/chromedriver not installed: apt-get install "
                "chromium chromium-driver; CI installs them")
  # Selenium Manager would otherwise look for (and download) a driver.
  os.environ["SE_OFFLINE"] = "true"
  from selenium import webdriver  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.chrome import service  # pylint: disable=g-import-not-at-top
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for argument in [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
      "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync",
      "--disable-dev-shm-usage", "--disable-extensions",
      "--no-default-browser-check", "--no-proxy-server",
      # Every host name but 127.0.0.1 fails to resolve.
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
      f"--window-size={window_size[0]},{window_size[1]}",
      f"--user-data-dir={user_data_dir}"]:
    options.add_argument(argument)
  options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
  return webdriver.Chrome(
      options=options, service=service.Service(executable_path=CHROMEDRIVER))


def wait_for_results(driver, count, timeout_s=60):
  """Waits until count cards have a loaded result or an error."""
  from selenium.webdriver.support import ui  # pylint: disable=g-import-not-at-top
  ui.WebDriverWait(driver, timeout_s).until(lambda _: driver.execute_script(
      "const done = [...document.querySelectorAll('.card')].filter((card) => "
      "card.querySelector('.error') || [...card.querySelectorAll("
      "'img.colorized')].some((img) => img.complete && img.naturalWidth));"
      "return done.length === arguments[0];", count))
