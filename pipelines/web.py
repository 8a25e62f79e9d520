r"""Serves a web page that colorizes photos dropped onto it.

The shipped photo model, then open http://127.0.0.1:8080/:

  colorizer-web

A model exported by the quickstart:

  colorizer-web --model=savedmodels/demo

A specific version, on another port, reachable from other machines (the page
has no authentication: only do this on a network you trust):

  colorizer-web --model=savedmodels/demo/3 --host=0.0.0.0 --port=8000

In front of TF Serving (this process then needs no TensorFlow at all):

  colorizer-web --serving_url=http://localhost:8501/v1/models/photos:predict

Under load, on a machine with more cores:

  colorizer-web --model=savedmodels/demo --max_concurrent=4 --max_queue=32

At most one of --model and --serving_url; with neither, the shipped photo
model (savedmodels/photos) is served. --model is a version dir or a model
dir (its highest integer version, as TF Serving would pick). Requests over
--max_upload_mb get HTTP 413; the page sends one photo per request.
--max_concurrent requests are colorized at once and up to --max_queue more
wait, each holding its upload in memory; beyond that a request gets HTTP 503
with a Retry-After header, so memory stays under about (max_concurrent +
max_queue) x max_upload_mb plus the model's.
"""

import sys

from absl import app
from absl import flags

# Flask and Pillow only: TensorFlow is imported by --model's backend alone.
from colorizer.serving import shipped
from colorizer.web import server

_MODEL = flags.DEFINE_string(
    "model", None, "SavedModel version dir (savedmodels/demo/3) or model dir "
    "(savedmodels/demo: the highest version). Default, without "
    "--serving_url: the shipped photo model, savedmodels/photos.")
_SERVING_URL = flags.DEFINE_string(
    "serving_url", None, "Forward to TF Serving's REST predict API instead, "
    "e.g. http://localhost:8501/v1/models/photos:predict.")
_HOST = flags.DEFINE_string(
    "host", "127.0.0.1", "Address to listen on; 0.0.0.0 for every interface.")
_PORT = flags.DEFINE_integer("port", 8080, "Port to listen on; 0 picks a "
                             "free one (the URL is printed).")
_MAX_UPLOAD_MB = flags.DEFINE_float(
    "max_upload_mb", 20.0, "Largest request, in MiB; larger ones get HTTP "
    "413.")
_MAX_CONCURRENT = flags.DEFINE_integer(
    "max_concurrent", server.DEFAULT_MAX_CONCURRENT,
    "Requests decoded and colorized at once; each holds full-size images and "
    "the network's activations.")
_MAX_QUEUE = flags.DEFINE_integer(
    "max_queue", server.DEFAULT_MAX_QUEUE,
    "Requests that may wait for a turn; more get HTTP 503 with a Retry-After "
    "header. 0: none wait.")


def _fail(message: str) -> None:
  sys.exit(f"colorizer-web: error: {message}")


def _describe_backend(colorize_fn) -> str:
  """The export served (path, version, step, preset, date), or the URL."""
  if _SERVING_URL.value:
    return f"TF Serving at {_SERVING_URL.value}"
  from colorizer.serving import export  # pylint: disable=g-import-not-at-top
  # The loaded version dir: the highest when --model is a model dir.
  described = export.describe_export(colorize_fn.description)
  return described if _MODEL.value else f"the shipped photo model, {described}"


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  if _MODEL.value and _SERVING_URL.value:
    _fail("pass one of --model (an exported SavedModel) and --serving_url "
          "(a TF Serving REST predict URL), not both.")
  model = _MODEL.value
  if not model and not _SERVING_URL.value:
    model = shipped.shipped_model_dir()
    if model is None:
      _fail(f"no --model given and no shipped model ({shipped.SHIPPED_MODEL}"
            ") here; pass --model=DIR or --serving_url=URL.")
  if not 0 <= _PORT.value <= 65535:
    _fail(f"--port={_PORT.value} must be in 0..65535.")
  if _MAX_UPLOAD_MB.value <= 0:
    _fail(f"--max_upload_mb={_MAX_UPLOAD_MB.value} must be positive.")
  if _MAX_CONCURRENT.value < 1:
    _fail(f"--max_concurrent={_MAX_CONCURRENT.value} must be at least 1.")
  if _MAX_QUEUE.value < 0:
    _fail(f"--max_queue={_MAX_QUEUE.value} must be 0 or more.")
  try:
    if model:
      colorize_fn = server.saved_model_colorizer(model)
    else:
      colorize_fn = server.serving_colorizer(_SERVING_URL.value)
  except ValueError as error:
    _fail(str(error))
  print(f"Model: {_describe_backend(colorize_fn)}", flush=True)
  page = server.create_app(
      colorize_fn, max_upload_bytes=int(_MAX_UPLOAD_MB.value * 2**20),
      max_concurrent=_MAX_CONCURRENT.value, max_queue=_MAX_QUEUE.value)
  try:
    server.serve(page, _HOST.value, _PORT.value)
  except OSError as error:
    _fail(f"cannot listen on {_HOST.value}:{_PORT.value}: {error}")


def run():
  app.run(main)


if __name__ == "__main__":
  run()
