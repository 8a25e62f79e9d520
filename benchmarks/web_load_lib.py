"""What benchmarks/web_load sends and checks: uploads good and hostile, the
HTTP client, the answers' checks and the summary. No flags: the binary and
the tests share it.
"""

import collections
import concurrent.futures
import dataclasses
import http.client
import io
import struct
import threading
import time
import uuid
import zlib
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

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


def memory_mb(pid: int, field: str) -> float:
  """VmRSS (now) or VmHWM (peak) of a process, from /proc, in MiB."""
  with open(f"/proc/{pid}/status", encoding="ascii") as f:
    for line in f:
      if line.startswith(field + ":"):
        return int(line.split()[1]) / 1024.0
  return float("nan")
