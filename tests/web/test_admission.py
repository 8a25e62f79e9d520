"""Tests for colorizer.web.admission and the page's bounded queue.

The app runs on a colorizer that waits for a gate, so that the queue can be
filled to its bound deterministically; no model is involved.
"""

import concurrent.futures
import threading
import time

import pytest

from colorizer.web import admission
from colorizer.web import server
from tests.web import test_web

_TIMEOUT_S = 30


def test_request_queue_admits_up_to_its_bound():
  queue = admission.RequestQueue(max_concurrent=2, max_queue=1)
  assert [queue.try_enter() for _ in range(4)] == [True, True, True, False]
  assert queue.admitted == 3
  queue.leave()
  assert queue.try_enter() and not queue.try_enter()
  for _ in range(3):
    queue.leave()
  assert queue.admitted == 0
  with pytest.raises(ValueError, match="without a matching try_enter"):
    queue.leave()


@pytest.mark.parametrize("max_concurrent,max_queue,message", [
    (0, 4, "max_concurrent=0 must be at least 1"),
    (2, -1, "max_queue=-1 must be 0 or more")])
def test_request_queue_checks_its_limits(max_concurrent, max_queue, message):
  with pytest.raises(ValueError, match=message):
    admission.RequestQueue(max_concurrent, max_queue)


def test_create_app_checks_max_queue():
  with pytest.raises(ValueError, match="max_queue=-1"):
    server.create_app(test_web.echo_colorizer, max_queue=-1)


def test_slots_bound_concurrency_and_time_the_work():
  queue = admission.RequestQueue(max_concurrent=1, max_queue=4)
  inside = threading.Event()
  release = threading.Event()

  def hold():
    with queue.slot():
      inside.set()
      release.wait(_TIMEOUT_S)

  with concurrent.futures.ThreadPoolExecutor(2) as pool:
    first = pool.submit(hold)
    assert inside.wait(_TIMEOUT_S)
    inside.clear()
    second = pool.submit(hold)
    # One slot: the second holder waits until the first is done.
    assert not inside.wait(0.2)
    release.set()
    first.result(_TIMEOUT_S)
    second.result(_TIMEOUT_S)
  assert inside.is_set()


def test_retry_after_grows_with_the_queue_and_stays_bounded():
  queue = admission.RequestQueue(max_concurrent=2, max_queue=1000)
  with queue.slot():
    pass  # A fast request pulls the 1 s starting average down.
  assert queue.retry_after_s() == 1
  for _ in range(200):
    queue._record(3.0)  # pylint: disable=protected-access
  for _ in range(10):
    queue.try_enter()
  # Eleven requests (ten in flight and the new one), 3 s each, two at once.
  assert queue.retry_after_s() == 17
  for _ in range(500):
    queue.try_enter()
  assert queue.retry_after_s() == 120


class _GatedColorizer:
  """echo_colorizer that waits for open_gate(); counts calls started."""

  def __init__(self):
    self._gate = threading.Event()
    self._lock = threading.Lock()
    self.started = 0

  def __call__(self, images):
    with self._lock:
      self.started += 1
    if not self._gate.wait(_TIMEOUT_S):
      raise AssertionError("the gate was never opened")
    return test_web.echo_colorizer(images)

  def open_gate(self):
    self._gate.set()


def _wait_until(condition):
  deadline = time.monotonic() + _TIMEOUT_S
  while not condition():
    if time.monotonic() > deadline:
      raise AssertionError("timed out")
    time.sleep(0.01)


def _post_photo(app, url="/api/colorize?format=png"):
  return app.test_client().post(url, data=test_web.form_files(
      ("a.png", test_web.photo(9, 7))))


@pytest.mark.parametrize("max_queue", [0, 2])
def test_full_queue_gets_503_with_retry_after(monkeypatch, max_queue):
  colorize_fn = _GatedColorizer()
  app = server.create_app(colorize_fn, max_concurrent=1, max_queue=max_queue)
  queue = app.extensions["colorizer_request_queue"]
  parsed = []
  original_stream = server._InMemoryRequest._get_file_stream  # pylint: disable=protected-access

  def counting_stream(*args, **kwargs):
    parsed.append(1)
    return original_stream(*args, **kwargs)

  monkeypatch.setattr(server._InMemoryRequest, "_get_file_stream",  # pylint: disable=protected-access
                      counting_stream)
  with concurrent.futures.ThreadPoolExecutor(1 + max_queue) as pool:
    admitted = [pool.submit(_post_photo, app)]
    _wait_until(lambda: colorize_fn.started == 1)
    admitted += [pool.submit(_post_photo, app) for _ in range(max_queue)]
    _wait_until(lambda: queue.admitted == 1 + max_queue)
    uploads_parsed = len(parsed)

    api = _post_photo(app)
    assert api.status_code == 503
    assert int(api.headers["Retry-After"]) >= 1
    assert "busy" in api.json["error"]
    assert api.headers["Content-Security-Policy"]
    form = _post_photo(app, "/")
    assert form.status_code == 503 and int(form.headers["Retry-After"]) >= 1
    assert "The server is busy" in form.get_data(as_text=True)
    # Refused before their bodies were read: no upload was parsed for them.
    assert len(parsed) == uploads_parsed
    # The page and its assets are still served while the queue is full.
    client = app.test_client()
    assert client.get("/").status_code == 200
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert queue.admitted == 1 + max_queue

    colorize_fn.open_gate()
    answers = [future.result(_TIMEOUT_S) for future in admitted]
  assert [answer.status_code for answer in answers] == [200] * (1 + max_queue)
  assert [test_web.png_size(answer.data) for answer in answers] == [
      (9, 7)] * (1 + max_queue)
  assert queue.admitted == 0
  assert _post_photo(app).status_code == 200


def test_queue_is_left_after_errors():
  def crash(images):
    raise RuntimeError("out of memory")

  app = server.create_app(crash, max_concurrent=1, max_queue=0)
  queue = app.extensions["colorizer_request_queue"]
  client = app.test_client()
  assert client.post("/api/colorize", data={}).status_code == 400
  assert _post_photo(app).status_code == 500
  too_large = server.create_app(test_web.echo_colorizer,
                                max_upload_bytes=100, max_concurrent=1,
                                max_queue=0)
  assert _post_photo(too_large).status_code == 413
  assert _post_photo(too_large).status_code == 413  # Not 503: it was left.
  assert queue.admitted == 0
  assert too_large.extensions["colorizer_request_queue"].admitted == 0
