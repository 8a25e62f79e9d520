"""End-to-end tests of the colorizer-web binary and of the page in a browser.

The binary runs in a subprocess in front of a fake TF Serving; the page runs
on an exported tiny model behind a real HTTP server and is driven by headless
Chromium, which needs Chromium and chromedriver (apt-get install chromium
chromium-driver): those tests are skipped without them. Helpers come from
tests/web/test_web.py, fixtures from tests/web/conftest.py.
"""

import json
import re
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
import werkzeug.serving

from colorizer.web import server
from tests.web import test_web

REPO_ROOT = test_web.REPO_ROOT


def _multipart(name, data):
  boundary = "colorizer-test-boundary"
  body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; "
          f"filename=\"{name}\"\r\nContent-Type: application/octet-stream"
          f"\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
  return body, f"multipart/form-data; boundary={boundary}"


def _page_url(process, timeout_s=60):
  """The URL the binary prints once it listens."""
  deadline = time.monotonic() + timeout_s
  while time.monotonic() < deadline:
    if select.select([process.stdout], [], [], 0.5)[0]:
      line = process.stdout.readline()
      # Not the first URL: the backend line may name TF Serving's.
      match = re.search(r"Colorizer page: (http://\S+/)", line)
      if match:
        return match.group(1)
      if not line:
        break
  process.kill()
  raise AssertionError(f"no URL printed; stderr: {process.stderr.read()}")


def test_binary_takes_at_most_one_backend():
  result = subprocess.run(
      [sys.executable, "-m", "pipelines.web", "--model=m",
       "--serving_url=http://localhost:8501/x"],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
  assert result.returncode != 0
  assert "not both" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("flag,message", [
    ("--max_queue=-1", "--max_queue=-1 must be 0 or more"),
    ("--max_concurrent=0", "--max_concurrent=0 must be at least 1")])
def test_binary_checks_queue_flags(flag, message):
  result = subprocess.run(
      [sys.executable, "-m", "pipelines.web", flag,
       "--serving_url=http://127.0.0.1:1/v1/models/demo:predict"],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
  assert result.returncode != 0 and message in result.stderr


def test_binary_end_to_end_with_serving_url(fake_serving):
  # Serving mode needs no TensorFlow: the binary starts in about a second.
  process = subprocess.Popen(
      [sys.executable, "-m", "pipelines.web", "--port=0",
       f"--serving_url={fake_serving.url}", "--max_upload_mb=1"],
      cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  try:
    url = _page_url(process)
    assert url.startswith("http://127.0.0.1:")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url + "healthz", timeout=30) as response:
      assert json.load(response)["backend"] == fake_serving.url
    with opener.open(url, timeout=30) as response:
      assert re.search(rb"up to\s+1 MB each", response.read())
    with opener.open(url + "static/app.js", timeout=30) as response:
      assert response.headers.get_content_type() == "text/javascript"
      assert b'"use strict";' in response.read()
    body, content_type = _multipart("scan.jpg", test_web.photo(21, 34, "JPEG"))
    request = urllib.request.Request(
        url + "api/colorize?format=png", data=body,
        headers={"Content-Type": content_type})
    with opener.open(request, timeout=30) as response:
      assert test_web.png_size(response.read()) == (21, 34)
  finally:
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
  assert process.returncode == 0


def test_binary_stops_cleanly_on_sigterm(fake_serving):
  process = subprocess.Popen(
      [sys.executable, "-m", "pipelines.web", "--port=0",
       f"--serving_url={fake_serving.url}"],
      cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  try:
    _page_url(process)
  finally:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
  assert process.returncode == 0


def test_serving_mode_imports_no_tensorflow():
  code = ("import sys; from colorizer.web import server; "
          "server.create_app(server.serving_colorizer('http://127.0.0.1:1/'))"
          "; sys.exit('tensorflow' in sys.modules)")
  subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True,
                 timeout=60)


def _serve_in_thread(page):
  """(URL, server) of page behind a real threaded HTTP server on 127.0.0.1."""
  http_server = werkzeug.serving.make_server("127.0.0.1", 0, page,
                                             threaded=True)
  threading.Thread(target=http_server.serve_forever, daemon=True).start()
  return f"http://127.0.0.1:{http_server.server_port}/", http_server


@pytest.fixture
def live_url(model_app):
  """model_app behind a real threaded HTTP server on 127.0.0.1."""
  url, http_server = _serve_in_thread(model_app)
  yield url
  http_server.shutdown()
  http_server.server_close()


def test_browser_end_to_end(live_url, tmp_path):
  photo_path = tmp_path / "old photo.png"
  photo_path.write_bytes(test_web.photo(120, 84, "PNG", seed=3))
  text_path = tmp_path / "notes.png"
  text_path.write_bytes(b"not a photo\n" * 10)
  driver = test_web.chromium_driver(tmp_path / "chromium-profile")
  try:
    driver.get(live_url)
    driver.find_element("id", "file-input").send_keys(
        f"{photo_path}\n{text_path}")
    driver.find_element("id", "colorize-button").click()
    test_web.wait_for_results(driver, 2)
    driver.save_screenshot(str(tmp_path / "web.png"))
    cards = driver.find_elements("css selector", ".card")
    image = cards[0].find_element("css selector", "img.colorized")
    assert driver.execute_script(
        "return [arguments[0].naturalWidth, arguments[0].naturalHeight];",
        image) == [120, 84]
    link = cards[0].find_element("css selector", "a.download")
    assert link.get_attribute("href").startswith("blob:http://127.0.0.1:")
    assert link.get_attribute("download") == "old photo_colorized.png"
    assert "notes.png is not an image" in cards[1].text
    assert "Colorized 1 of 2 (1 failed)." in driver.find_element(
        "id", "message").text
    # Only the refused upload may log an error: no CSP violation, no 404.
    errors = [entry["message"] for entry in driver.get_log("browser")
              if entry["level"] == "SEVERE" and "status of 400" not in
              entry["message"]]
    assert not errors
  finally:
    driver.quit()
  assert (tmp_path / "web.png").stat().st_size > 0


def test_browser_retries_when_the_server_is_busy(tmp_path):
  def slow_echo(images):
    time.sleep(1.0)
    return test_web.echo_colorizer(images)

  # One photo at a time and none waiting: of the two the page sends at once,
  # one gets 503 and must be sent again after its Retry-After.
  page = server.create_app(slow_echo, max_concurrent=1, max_queue=0)
  statuses = []

  @page.after_request
  def record(response):
    statuses.append(response.status_code)
    return response

  paths = []
  for index, size in enumerate([(40, 30), (30, 40)]):
    paths.append(tmp_path / f"photo {index}.png")
    paths[-1].write_bytes(test_web.photo(*size, seed=index))
  url, http_server = _serve_in_thread(page)
  driver = test_web.chromium_driver(tmp_path / "chromium-profile")
  try:
    driver.get(url)
    driver.find_element("id", "file-input").send_keys(
        "\n".join(str(path) for path in paths))
    driver.find_element("id", "colorize-button").click()
    test_web.wait_for_results(driver, 2)
    assert "Colorized 2 of 2." in driver.find_element("id", "message").text
    sizes = [driver.execute_script(
        "return [arguments[0].naturalWidth, arguments[0].naturalHeight];",
        image) for image in driver.find_elements("css selector",
                                                 "img.colorized")]
    assert sizes == [[40, 30], [30, 40]]
    errors = [entry["message"] for entry in driver.get_log("browser")
              if entry["level"] == "SEVERE" and "status of 503" not in
              entry["message"]]
    assert not errors
  finally:
    driver.quit()
    http_server.shutdown()
    http_server.server_close()
  assert 503 in statuses  # The retry was needed, and it worked.
