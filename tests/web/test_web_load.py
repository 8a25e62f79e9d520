"""Tests for benchmarks/web_load_lib.py: its uploads, its checks, a short run.

The hostile uploads are sent to the app through Flask's test client (no
model: the echo colorizer), so that each is known to be refused as the load
test expects. The short run is the benchmark itself, end to end, on an
untrained tiny model: 3 clients, 30 uploads (10 hostile), then 10 requests
at once against a queue bound of 3.
"""

import io
import subprocess
import sys

import pytest

from benchmarks import web_load_lib
from colorizer.web import server
from tests.web import test_web

REPO_ROOT = test_web.REPO_ROOT
# Over the zlib bomb (about 100 KB), as --max_upload_mb=1 in the short run.
_MAX_UPLOAD_BYTES = 2**20


def _answer(upload, response):
  """A web_load_lib.Answer from a Flask test client response, checked."""
  answer = web_load_lib.Answer(upload, response.status_code, 0.0, response.data,
                           response.content_type,
                           response.headers.get("Retry-After"))
  answer.problem = web_load_lib.answer_problem(answer)
  return answer


def _post(client, upload):
  return client.post(web_load_lib.API_PATH, data={"image": (
      io.BytesIO(upload.data), upload.name)})


def test_uploads_get_the_answers_the_load_test_expects():
  client = server.create_app(test_web.echo_colorizer,
                             max_upload_bytes=_MAX_UPLOAD_BYTES).test_client()
  hostile = web_load_lib.hostile_uploads(_MAX_UPLOAD_BYTES)
  assert len(hostile) == 10 and all(upload.hostile for upload in hostile)
  for upload in hostile:
    answer = _answer(upload, _post(client, upload))
    assert answer.status == upload.expected_status, (upload.name, answer.body)
    assert answer.problem is None, answer.problem
  assert [upload.name for upload in hostile
          if upload.expected_status == 413] == ["oversized.png"]
  good = web_load_lib.make_uploads(10, 0, _MAX_UPLOAD_BYTES)
  for upload in good:
    answer = _answer(upload, _post(client, upload))
    assert answer.status == 200 and answer.problem is None, answer.problem


def test_make_uploads_spreads_the_hostile_ones():
  uploads = web_load_lib.make_uploads(30, 10, _MAX_UPLOAD_BYTES)
  hostile_at = [index for index, upload in enumerate(uploads)
                if upload.hostile]
  assert len(uploads) == 30 and hostile_at == list(range(1, 30, 3))
  assert len({uploads[index].name for index in hostile_at}) == 10
  good_sizes = {upload.expected_size for upload in uploads
                if not upload.hostile}
  assert len(good_sizes) == len(web_load_lib.GOOD_SIZES)
  with pytest.raises(ValueError, match="hostile=31"):
    web_load_lib.make_uploads(30, 31, _MAX_UPLOAD_BYTES)


def test_answer_problem_finds_wrong_answers():
  photo = web_load_lib.Upload("a.png", b"", (9, 7))
  bomb = web_load_lib.hostile_uploads(_MAX_UPLOAD_BYTES)[1]
  wrong_size = test_web.photo(7, 9)
  cases = [
      (web_load_lib.Answer(photo, None, 0.0, error="ConnectionResetError"),
       "no answer"),
      (web_load_lib.Answer(photo, 500, 0.0, b"{}"), "HTTP 500, expected 200"),
      (web_load_lib.Answer(photo, 503, 0.0), "503 without a Retry-After"),
      (web_load_lib.Answer(photo, 200, 0.0, b"text"), "not an image"),
      (web_load_lib.Answer(photo, 200, 0.0, wrong_size), "expected a PNG"),
      (web_load_lib.Answer(bomb, 200, 0.0, wrong_size), "expected 400"),
      (web_load_lib.Answer(bomb, 400, 0.0, b"<html>", "text/html"),
       "without a JSON error")]
  for answer, message in cases:
    assert message in web_load_lib.answer_problem(answer)
  assert web_load_lib.answer_problem(web_load_lib.Answer(
      photo, 503, 0.0, retry_after="2")) is None


def _figures(output):
  """{key: value} of the benchmark's key=value lines (values as text)."""
  figures = {}
  for line in output.splitlines():
    for pair in line.split(" "):
      key, _, value = pair.partition("=")
      if value and key.isidentifier():
        figures.setdefault(key, value)
  return figures


@pytest.mark.slow
def test_load_end_to_end_on_a_tiny_model():
  result = subprocess.run(
      [sys.executable, "-m", "benchmarks.web_load", "--clients=3",
       "--uploads=30", "--hostile=10", "--max_concurrent=1", "--max_queue=2",
       "--max_upload_mb=1", "--overload_clients=10", "--time_limit_s=120"],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)
  figures = _figures(result.stdout)
  assert result.returncode == 0 and figures.get("pass") == "1", (
      result.stdout, result.stderr[-3000:])
  assert result.stdout.startswith("cpu=")  # hardware.describe() comes first.
  assert figures["good_ok"] == "20" and figures["hostile_ok"] == "10"
  assert figures["status_500"] == figures["no_answer"] == "0"
  # Three clients never pass a bound of 1 running + 2 waiting: no 503.
  assert figures["retried_503"] == "0"
  assert int(figures["overload_503"]) >= 1
  assert int(figures["overload_200"]) + int(figures["overload_503"]) == 10
  assert float(figures["p95_ms"]) >= float(figures["p50_ms"]) > 0
  assert float(figures["server_peak_rss_mb"]) >= float(
      figures["server_start_rss_mb"]) > 0
