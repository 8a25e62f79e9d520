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

import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from typing import Tuple

from absl import app
from absl import flags

from benchmarks import web_load_lib

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

def start_server(model_dir: str, log_file) -> Tuple[subprocess.Popen, int]:
  """colorizer-web on 127.0.0.1 and a free port: (process, port)."""
  command = [sys.executable, "-m", "pipelines.web", f"--model={model_dir}",
             f"--host={web_load_lib.HOST}", "--port=0",
             f"--max_upload_mb={_MAX_UPLOAD_MB.value}",
             f"--max_concurrent={_MAX_CONCURRENT.value}",
             f"--max_queue={_MAX_QUEUE.value}"]
  # The request log goes to a file: an unread pipe would fill and block it.
  process = subprocess.Popen(
      command, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
      stdout=subprocess.PIPE, stderr=log_file, text=True)
  deadline = time.monotonic() + web_load_lib.SERVER_START_TIMEOUT_S
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
  uploads = web_load_lib.make_uploads(_UPLOADS.value, _HOSTILE.value,
                                      max_upload_bytes)
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
      start_rss_mb = web_load_lib.memory_mb(process.pid, "VmRSS")
      start = time.perf_counter()
      answers, not_sent = web_load_lib.run_load(port, uploads, _CLIENTS.value,
                                   time.monotonic() + _TIME_LIMIT_S.value)
      load_seconds = time.perf_counter() - start
      overload_upload = web_load_lib.Upload(
          "overload.jpg", web_load_lib.gray_photo(640, 480, "JPEG", 7),
          (640, 480))
      overload = (web_load_lib.run_overload(port, overload_upload,
                                            overload_clients)
                  if overload_clients else [])
      peak_rss_mb = web_load_lib.memory_mb(process.pid, "VmHWM")
    finally:
      process.send_signal(signal.SIGINT)
      try:
        process.wait(timeout=30)
      except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
  figures, failures = web_load_lib.summarize(answers, not_sent, overload, bound)
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
  from colorizer import presets  # pylint: disable=g-import-not-at-top
  from colorizer.model import networks  # pylint: disable=g-import-not-at-top
  from colorizer.serving import export  # pylint: disable=g-import-not-at-top
  config = presets.tiny()
  return export.export(networks.build_generator(config), config, temp_dir,
                       "tiny")


if __name__ == "__main__":
  app.run(main)
