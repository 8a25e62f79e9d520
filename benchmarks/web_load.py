r"""colorizer-web under load: concurrent clients, good and hostile uploads.

  python -m benchmarks.web_load                  # an untrained tiny model
  python -m benchmarks.web_load --model=savedmodels/demo
  python -m benchmarks.web_load --clients=2 --uploads=30 --max_concurrent=1 \
      --max_queue=1 --max_upload_mb=1 --overload_clients=8

Starts colorizer-web (python -m pipelines.web) on 127.0.0.1 with a free port,
in a subprocess, and sends it two things, through the API the page uses
(POST /api/colorize?format=png, one photo per request):
  1. the load: --uploads uploads from --clients concurrent clients, of which
     --hostile are hostile (zero bytes, decompression bombs, truncated
     files, non-images, one over the upload limit) and the rest gray photos
     from 32 to 1024 px in JPEG, PNG and WebP. A client told 503 waits the
     Retry-After it was given and tries again (at most 5 times).
  2. the overload: --overload_clients requests at once, more than the
     server's --max_concurrent + --max_queue, each tried once.
Checks that every good upload gets 200 and a PNG of its size, every hostile
one 400 or 413 (413 only for the one over the limit), nothing 500, and that
the overload's excess gets 503 with a Retry-After header. Prints key=value
lines (the hardware first): latency p50 and p95 of the good uploads, the
server's peak RSS (VmHWM), then pass=1, or pass=0 after failure= lines.
Loopback only; the load stops sending after --time_limit_s.
"""

import collections
import concurrent.futures
import dataclasses
import http.client
import io
import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from typing import Dict, List, Optional, Sequence, Tuple

from absl import app
from absl import flags
import numpy as np
from PIL import Image

_MODEL = flags.DEFINE_string(
    "model", None, "Exported SavedModel (version or model dir); default an "
    "untrained tiny model, exported to a temporary folder.")
_CLIENTS = flags.DEFINE_integer("clients", 16, "Concurrent clients.",
                                lower_bound=1, upper_bound=256)
_UPLOADS = flags.DEFINE_integer("uploads", 200, "Uploads in the load.",
                                lower_bound=1, upper_bound=10_000)
_HOSTILE = flags.DEFINE_integer("hostile", 10, "Of them, hostile ones.",
                                lower_bound=0)
_OVERLOAD_CLIENTS = flags.DEFINE_integer(
    "overload_clients", None, "Requests sent at once after the load; default "
    "twice --max_concurrent + --max_queue; 0 skips the overload.",
    lower_bound=0, upper_bound=256)
_MAX_CONCURRENT = flags.DEFINE_integer(
    "max_concurrent", 2, "colorizer-web's --max_concurrent.", lower_bound=1)
_MAX_QUEUE = flags.DEFINE_integer("max_queue", 16,
                                  "colorizer-web's --max_queue.", lower_bound=0)
_MAX_UPLOAD_MB = flags.DEFINE_float("max_upload_mb", 20.0,
                                    "colorizer-web's --max_upload_mb.")
_TIME_LIMIT_S = flags.DEFINE_float(
    "time_limit_s", 600.0, "The load sends nothing new after this long.")

API_PATH = "/api/colorize?format=png"
HOST = "127.0.0.1"
MAX_503_RETRIES = 5
REQUEST_TIMEOUT_S = 120.0
SERVER_START_TIMEOUT_S = 180.0
# (width, height) of the good photos, in turn: small ones most often, as a
# page mostly sees, up to a 1024 x 768 scan; odd sizes and a thin strip.
GOOD_SIZES = ((48, 32), (96, 64), (160, 120), (37, 211), (256, 256),
              (320, 240), (500, 41), (480, 360), (640, 480), (1024, 768))
GOOD_FORMATS = ("JPEG", "PNG", "WEBP")


@dataclasses.dataclass(frozen=True)
class Upload:
  """One file to send; expected_size (width, height) is None if hostile."""
  name: str
  data: bytes
  expected_size: Optional[Tuple[int, int]] = None
  expected_status: int = 200

  @property
  def hostile(self) -> bool:
    return self.expected_size is None


@dataclasses.dataclass
class Answer:
  """The server's (last) answer to an upload, or the error instead of one.

  Attributes:
    upload: what was sent.
    status: the HTTP status; None if there was no answer (see error).
    seconds: from the first try to this answer.
    problem: why the answer is wrong for the upload; None if it is right.
    refusals: the 503s answered before this one.
  """
  upload: Upload
  status: Optional[int]
  seconds: float
  body: bytes = b""
  content_type: str = ""
  retry_after: Optional[str] = None
  error: str = ""
  problem: Optional[str] = None
  refusals: int = 0


def gray_photo(width: int, height: int, image_format: str, seed: int) -> bytes:
  """An encoded gray photo: gradients and noise, like a scanned print."""
  rng = np.random.RandomState(seed)
  rows = np.linspace(0.0, 1.0, height)[:, None]
  cols = np.linspace(0.0, 1.0, width)[None, :]
  gray = 0.5 + 0.3 * np.sin(4 * rows + 3 * cols + rng.uniform(0, 6.3))
  gray = gray + rng.normal(0.0, 0.04, (height, width))
  image = Image.fromarray((np.clip(gray, 0, 1) * 255).astype(np.uint8), "L")
  buffer = io.BytesIO()
  image.save(buffer, format=image_format, quality=90)
  return buffer.getvalue()


def _png(width: int, height: int, idat: bytes) -> bytes:
  """A PNG (8-bit gray) with this header and image data, valid CRCs."""
  def chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload +
            struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))
  header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
  return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) +
          chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def zlib_bomb_png(side: int = 10_000) -> bytes:
  """A valid PNG of side x side black pixels: about 100 KB for 100 MP."""
  compressor = zlib.compressobj(9)
  rows = b"\x00" * ((side + 1) * 100)  # 100 scanlines, each filter 0.
  parts = [compressor.compress(rows) for _ in range(side // 100)]
  return _png(side, side, b"".join(parts) + compressor.flush())


def hostile_uploads(max_upload_bytes: int) -> List[Upload]:
  """Ten hostile files: each must get 400, the oversized one 413."""
  truncated_jpeg = gray_photo(200, 150, "JPEG", seed=1)
  truncated_png = gray_photo(200, 150, "PNG", seed=2)
  rng = np.random.RandomState(3)
  oversized = b"\x89PNG\r\n\x1a\n" + rng.bytes(max_upload_bytes)
  gif_bomb = (b"GIF89a" + struct.pack("<HH", 65535, 65535) +
              b"\x00\x00\x00" + rng.bytes(64))
  refused = {
      "zero bytes.jpg": b"",
      "header bomb 100000x100000.png": _png(100_000, 100_000,
                                            zlib.compress(b"\x00" * 64)),
      "zlib bomb 10000x10000.png": zlib_bomb_png(),
      "gif bomb 65535x65535.gif": gif_bomb,
      "truncated.jpg": truncated_jpeg[:len(truncated_jpeg) // 3],
      "truncated.png": truncated_png[:len(truncated_png) // 2],
      "random bytes.jpg": rng.bytes(5000),
      "notes.png": b"not a photo, just some notes\n" * 40,
      "page.jpg": b"<!doctype html><script>alert(1)</script>\n" * 20,
  }
  return [Upload(name, data, expected_status=400)
          for name, data in refused.items()] + [
              Upload("oversized.png", oversized, expected_status=413)]


def make_uploads(num_uploads: int, num_hostile: int, max_upload_bytes: int,
                 seed: int = 0) -> List[Upload]:
  """num_uploads uploads, the hostile ones spread evenly among the good.

  Raises:
    ValueError: unless 0 <= num_hostile <= num_uploads.
  """
  if not 0 <= num_hostile <= num_uploads:
    raise ValueError(f"hostile={num_hostile} must be in 0..{num_uploads}.")
  hostile = hostile_uploads(max_upload_bytes)
  hostile_at = {int((index + 0.5) * num_uploads / num_hostile)
                for index in range(num_hostile)} if num_hostile else set()
  uploads, hostile_sent = [], 0
  for index in range(num_uploads):
    if index in hostile_at:
      uploads.append(hostile[hostile_sent % len(hostile)])
      hostile_sent += 1
      continue
    width, height = GOOD_SIZES[index % len(GOOD_SIZES)]
    image_format = GOOD_FORMATS[index % len(GOOD_FORMATS)]
    uploads.append(Upload(
        f"photo {index}.{image_format.lower()}",
        gray_photo(width, height, image_format, seed + index), (width, height)))
  return uploads


def multipart_body(name: str, data: bytes) -> Tuple[bytes, str]:
  """(body, content type) of a form with one file, as a browser sends it."""
  boundary = f"colorizer-load-{uuid.uuid4().hex}"
  head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; "
          f"filename=\"{name}\"\r\nContent-Type: application/octet-stream"
          "\r\n\r\n").encode()
  return (head + data + f"\r\n--{boundary}--\r\n".encode(),
          f"multipart/form-data; boundary={boundary}")


def post_upload(port: int, upload: Upload,
                timeout_s: float = REQUEST_TIMEOUT_S) -> Answer:
  """Sends one upload to the API; never raises for a network error."""
  body, content_type = multipart_body(upload.name, upload.data)
  connection = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
  start = time.perf_counter()
  try:
    try:
      connection.request("POST", API_PATH, body=body,
                         headers={"Content-Type": content_type})
    except (BrokenPipeError, ConnectionResetError):
      pass  # It answered (413, 503) before reading everything: read that.
    response = connection.getresponse()
    answer = Answer(upload, response.status, time.perf_counter() - start,
                    response.read(), response.getheader("Content-Type", ""),
                    response.getheader("Retry-After"))
  except (OSError, http.client.HTTPException) as error:
    answer = Answer(upload, None, time.perf_counter() - start,
                    error=f"{type(error).__name__}: {error}")
  finally:
    connection.close()
  answer.problem = answer_problem(answer)
  return answer


def answer_problem(answer: Answer) -> Optional[str]:
  """Why the answer is wrong for its upload, or None if it is right."""
  upload = answer.upload
  if answer.status is None:
    return f"{upload.name}: no answer ({answer.error})"
  if answer.status == 503:
    if not (answer.retry_after or "").isdigit():
      return f"{upload.name}: 503 without a Retry-After in seconds"
    return None  # Busy is a right answer; the client may try again.
  if answer.status != upload.expected_status:
    return (f"{upload.name}: HTTP {answer.status}, expected "
            f"{upload.expected_status}: {answer.body[:200]!r}")
  if upload.hostile:
    return (None if answer.content_type.startswith("application/json") and
            b'"error"' in answer.body else
            f"{upload.name}: HTTP {answer.status} without a JSON error")
  try:
    with Image.open(io.BytesIO(answer.body)) as image:
      image.load()
      found = image.format, image.size
  except (OSError, ValueError) as error:
    return f"{upload.name}: the answer is not an image ({error})"
  if found != ("PNG", upload.expected_size):
    return (f"{upload.name}: got a {found[0]} of {found[1]}, expected a PNG "
            f"of {upload.expected_size}")
  return None


def send_with_retries(port: int, upload: Upload, deadline: float) -> Answer:
  """Sends until the answer is not 503, waiting as Retry-After asks."""
  start, refusals = time.perf_counter(), 0
  while True:
    answer = post_upload(port, upload)
    if (answer.status != 503 or answer.problem or
        refusals >= MAX_503_RETRIES or
        time.monotonic() + int(answer.retry_after) > deadline):
      break
    refusals += 1
    time.sleep(int(answer.retry_after))
  if answer.status == 503 and not answer.problem:
    answer.problem = f"{upload.name}: still 503 after {refusals} retries"
  answer.seconds, answer.refusals = time.perf_counter() - start, refusals
  return answer


def run_load(port: int, uploads: Sequence[Upload], num_clients: int,
             deadline: float) -> Tuple[List[Answer], int]:
  """Sends uploads from num_clients threads: (answers, uploads not sent)."""
  next_index = iter(range(len(uploads)))
  lock = threading.Lock()
  answers = []

  def client():
    while time.monotonic() < deadline:
      with lock:
        index = next(next_index, None)
      if index is None:
        return
      answer = send_with_retries(port, uploads[index], deadline)
      with lock:
        answers.append(answer)

  with concurrent.futures.ThreadPoolExecutor(num_clients) as pool:
    for future in [pool.submit(client) for _ in range(num_clients)]:
      future.result()
  return answers, len(uploads) - len(answers)


def run_overload(port: int, upload: Upload, num_requests: int
                 ) -> List[Answer]:
  """num_requests copies of upload at the same moment, each sent once."""
  barrier = threading.Barrier(num_requests)

  def send(_):
    barrier.wait(timeout=REQUEST_TIMEOUT_S)
    return post_upload(port, upload)

  with concurrent.futures.ThreadPoolExecutor(num_requests) as pool:
    return list(pool.map(send, range(num_requests)))


def summarize(answers: Sequence[Answer], not_sent: int,
              overload: Sequence[Answer], overload_bound: int
              ) -> Tuple[Dict[str, object], List[str]]:
  """The figures to print and the failures, from the load and the overload."""
  good = [answer for answer in answers if not answer.upload.hostile]
  hostile = [answer for answer in answers if answer.upload.hostile]
  statuses = collections.Counter(answer.status for answer in
                                 [*answers, *overload])
  latencies_ms = [answer.seconds * 1000 for answer in good] or [np.nan]
  figures = {
      "good_ok": sum(not answer.problem for answer in good),
      "good_failed": sum(bool(answer.problem) for answer in good),
      "hostile_ok": sum(not answer.problem for answer in hostile),
      "hostile_failed": sum(bool(answer.problem) for answer in hostile),
      "status_500": sum(count for status, count in statuses.items()
                        if (status or 0) >= 500 and status != 503),
      "no_answer": statuses[None],
      "retried_503": sum(answer.refusals for answer in answers),
      "not_sent": not_sent,
      "p50_ms": float(np.percentile(latencies_ms, 50)),
      "p95_ms": float(np.percentile(latencies_ms, 95)),
      "max_ms": float(np.max(latencies_ms)),
      "overload_requests": len(overload),
      "overload_200": sum(answer.status == 200 for answer in overload),
      "overload_503": sum(answer.status == 503 for answer in overload),
  }
  failures = [answer.problem for answer in [*answers, *overload]
              if answer.problem]
  if not_sent:
    failures.append(f"{not_sent} uploads not sent before the time limit")
  if len(overload) > overload_bound and not figures["overload_503"]:
    failures.append(f"overload: none of {len(overload)} requests at once got "
                    f"503 (queue bound {overload_bound})")
  return figures, failures


def _memory_mb(pid: int, field: str) -> float:
  """VmRSS (now) or VmHWM (peak) of a process, from /proc, in MiB."""
  with open(f"/proc/{pid}/status", encoding="ascii") as f:
    for line in f:
      if line.startswith(field + ":"):
        return int(line.split()[1]) / 1024.0
  return float("nan")


def start_server(model_dir: str, log_file) -> Tuple[subprocess.Popen, int]:
  """colorizer-web on 127.0.0.1 and a free port: (process, port)."""
  command = [sys.executable, "-m", "pipelines.web", f"--model={model_dir}",
             f"--host={HOST}", "--port=0",
             f"--max_upload_mb={_MAX_UPLOAD_MB.value}",
             f"--max_concurrent={_MAX_CONCURRENT.value}",
             f"--max_queue={_MAX_QUEUE.value}"]
  # The request log goes to a file: an unread pipe would fill and block it.
  process = subprocess.Popen(
      command, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
      stdout=subprocess.PIPE, stderr=log_file, text=True)
  deadline = time.monotonic() + SERVER_START_TIMEOUT_S
  while time.monotonic() < deadline and process.poll() is None:
    if select.select([process.stdout], [], [], 0.5)[0]:
      match = re.search(r"http://127\.0\.0\.1:(\d+)/",
                        process.stdout.readline())
      if match:
        return process, int(match.group(1))
  process.kill()
  process.wait()
  log_file.seek(0)
  raise RuntimeError(f"colorizer-web did not start: {log_file.read()[-2000:]}")


# The printed lines: correctness, latency, memory, the overload.
_PRINTED_GROUPS = (
    ("good_ok", "good_failed", "hostile_ok", "hostile_failed", "status_500",
     "no_answer", "retried_503", "not_sent"),
    ("p50_ms", "p95_ms", "max_ms", "load_seconds", "uploads_per_s"),
    ("server_start_rss_mb", "server_peak_rss_mb"),
    ("overload_requests", "overload_200", "overload_503"))


def _format(value) -> str:
  return f"{value:.4g}" if isinstance(value, float) else str(value)


def main(argv):
  del argv
  bound = _MAX_CONCURRENT.value + _MAX_QUEUE.value
  overload_clients = (min(2 * bound, 256) if _OVERLOAD_CLIENTS.value is None
                      else _OVERLOAD_CLIENTS.value)
  from colorizer import hardware  # pylint: disable=g-import-not-at-top
  print(hardware.describe(), flush=True)
  max_upload_bytes = int(_MAX_UPLOAD_MB.value * 2**20)
  uploads = make_uploads(_UPLOADS.value, _HOSTILE.value, max_upload_bytes)
  with tempfile.TemporaryDirectory() as temp_dir, tempfile.TemporaryFile(
      "w+") as log_file:
    model_dir = _MODEL.value or _export_tiny_model(temp_dir)
    print(f"model={_MODEL.value or 'untrained tiny'} clients={_CLIENTS.value} "
          f"uploads={len(uploads)} hostile={_HOSTILE.value} "
          f"max_concurrent={_MAX_CONCURRENT.value} "
          f"max_queue={_MAX_QUEUE.value} max_upload_mb={_MAX_UPLOAD_MB.value}",
          flush=True)
    process, port = start_server(model_dir, log_file)
    try:
      start_rss_mb = _memory_mb(process.pid, "VmRSS")
      start = time.perf_counter()
      answers, not_sent = run_load(port, uploads, _CLIENTS.value,
                                   time.monotonic() + _TIME_LIMIT_S.value)
      load_seconds = time.perf_counter() - start
      overload = (run_overload(port, Upload(
          "overload.jpg", gray_photo(640, 480, "JPEG", 7), (640, 480)),
                               overload_clients) if overload_clients else [])
      peak_rss_mb = _memory_mb(process.pid, "VmHWM")
    finally:
      process.send_signal(signal.SIGINT)
      try:
        process.wait(timeout=30)
      except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
  figures, failures = summarize(answers, not_sent, overload, bound)
  figures.update(load_seconds=load_seconds,
                 uploads_per_s=len(answers) / load_seconds,
                 server_start_rss_mb=start_rss_mb,
                 server_peak_rss_mb=peak_rss_mb)
  for group in _PRINTED_GROUPS:
    print(" ".join(f"{key}={_format(figures[key])}" for key in group))
  for failure in failures[:20]:
    print(f"failure={failure}")
  print(f"pass={int(not failures)}")
  return 0 if not failures else 1


def _export_tiny_model(temp_dir: str) -> str:
  from colorizer import config as config_lib  # pylint: disable=g-import-not-at-top
  from colorizer.model import networks  # pylint: disable=g-import-not-at-top
  from colorizer.serving import export  # pylint: disable=g-import-not-at-top
  config = config_lib.tiny()
  return export.export(networks.build_generator(config), config, temp_dir,
                       "tiny")


if __name__ == "__main__":
  app.run(main)
