"""A web page that colorizes photos: Flask over a colorize function.

create_app wraps any colorize_fn (a list of encoded images -> a list of PNGs
of the same sizes), so the page runs on an in-process SavedModel
(saved_model_colorizer) or in front of TF Serving (serving_colorizer), both
in colorizer.web.backends, and tests inject their own.

Routes:
  GET  /              the page: a drop zone, a file input and a Colorize
                      button; results appear side by side with the input.
  POST /              the no-JavaScript fallback: the form's files in, the
                      page with every result (or the error) out.
  POST /api/colorize  multipart files (any field names) in; JSON
                      {"results": [{"name", "width", "height", "png_base64"}]}
                      out, or with ?format=png and one file the PNG itself.
                      Errors are JSON {"error": message}.
  GET  /healthz       {"status": "ok", "backend": ...}.
  GET  /static/...    the page's script, style sheet and icon.

The page is a Jinja2 template (templates/index.html, which also renders the
no-JavaScript results) and its assets are static files (static/), both
shipped as package data.

At most max_concurrent uploads are colorized at once and max_queue more
wait (colorizer.web.admission); a POST beyond that gets HTTP 503 with a
Retry-After header before its body is read, so memory stays bounded.

Every upload is read with Pillow (colorizer.data.image_io: EXIF orientation,
WebP, TIFF, CMYK, 16-bit, alpha) and re-encoded as PNG before the model sees
it. Nothing is written to disk: uploads are parsed into memory (bounded by
max_upload_bytes) and results go back in the response. The uploaded file
name is only ever displayed (escaped) or offered as a download name.
"""

import base64
import dataclasses
import io
import json
import signal
import threading
from typing import List, Optional, Sequence, Tuple

import flask
from PIL import Image
import werkzeug.exceptions
import werkzeug.serving
import werkzeug.utils

from colorizer.data import image_io
from colorizer.web import admission
from colorizer.web import backends

# The backend contract and the backends live in backends; these names keep
# server.ColorizeError, server.saved_model_colorizer, ... working.
ColorizeFn = backends.ColorizeFn
ColorizeError = backends.ColorizeError
saved_model_colorizer = backends.saved_model_colorizer
serving_colorizer = backends.serving_colorizer

DEFAULT_MAX_UPLOAD_BYTES = 20 * 2**20
# Requests decoded and colorized at once; more wait. Each holds full-size
# images and the network's activations, so this bounds memory, not
# correctness (the SavedModel's signature is thread-safe).
DEFAULT_MAX_CONCURRENT = 2
# Requests that may wait for a turn, each holding its upload in memory;
# more get HTTP 503. 16 is eight browser tabs' worth (each sends two at once).
DEFAULT_MAX_QUEUE = 16
# The POST routes that colorize, and so wait in the queue.
_QUEUED_ENDPOINTS = ("index", "api_colorize")
_MAX_NAME_LENGTH = 120
_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'")


@dataclasses.dataclass
class Result:
  """One colorized upload."""
  name: str
  width: int
  height: int
  input_png: bytes
  colorized_png: bytes

  @property
  def download_name(self) -> str:
    stem = werkzeug.utils.secure_filename(self.name.rsplit(".", 1)[0])
    return f"{stem or 'photo'}_colorized.png"

  @property
  def input_b64(self) -> str:
    return base64.b64encode(self.input_png).decode("ascii")

  @property
  def colorized_b64(self) -> str:
    return base64.b64encode(self.colorized_png).decode("ascii")


class _InMemoryRequest(flask.Request):
  """Keeps uploaded files in memory: werkzeug spools large ones to disk."""

  def _get_file_stream(self, total_content_length, content_type,
                       filename=None, content_length=None):
    return io.BytesIO()


def display_name(filename: Optional[str]) -> str:
  """The last component of an uploaded file's name, for display only."""
  name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
  return name[:_MAX_NAME_LENGTH] or "photo"


def prepare_upload(name: str, data: bytes,
                   max_pixels: int = image_io.DEFAULT_MAX_PIXELS
                   ) -> Tuple[bytes, int, int]:
  """Reads an uploaded image and re-encodes it as PNG for the model.

  Args:
    name: its display name, for messages.
    data: the uploaded bytes.
    max_pixels: larger images are refused before they are decoded.

  Returns:
    (png_bytes, width, height): upright, opaque RGB.

  Raises:
    ColorizeError: (400) if the data is empty, not an image or too large.
  """
  if not data:
    raise ColorizeError(f"{name} is empty.")
  try:
    rgb_uint8 = image_io.read_rgb(data, max_pixels=max_pixels)
  except image_io.ImageReadError as error:
    reason = str(error).removeprefix("<bytes>: ")
    if reason.startswith("UnidentifiedImageError"):
      raise ColorizeError(
          f"{name} is not an image this page can read; send a JPEG, PNG, "
          "WebP, TIFF, BMP or GIF file.") from error
    raise ColorizeError(f"{name} cannot be read: {reason}.") from error
  buffer = io.BytesIO()
  # Fast compression: this PNG only travels to the model and back.
  Image.fromarray(rgb_uint8).save(buffer, format="PNG", compress_level=1)
  height, width = rgb_uint8.shape[:2]
  return buffer.getvalue(), width, height


def _check_outputs(outputs: Sequence[bytes], sizes: Sequence[Tuple[int, int]],
                   names: Sequence[str]) -> None:
  """Raises ColorizeError (502) unless outputs are PNGs of the input sizes."""
  if len(outputs) != len(sizes):
    raise ColorizeError(f"The colorizer returned {len(outputs)} images for "
                        f"{len(sizes)} inputs.", 502)
  for output, size, name in zip(outputs, sizes, names):
    try:
      with Image.open(io.BytesIO(output)) as image:
        output_format, output_size = image.format, image.size
    except (OSError, ValueError) as error:
      raise ColorizeError(f"The colorizer returned something that is not an "
                          f"image for {name}.", 502) from error
    if output_format != "PNG" or output_size != size:
      raise ColorizeError(
          f"The colorizer returned a {output_format} of {output_size[0]}x"
          f"{output_size[1]} for {name} ({size[0]}x{size[1]}).", 502)


def _uploads() -> List[Tuple[str, bytes]]:
  """(display name, bytes) of every file in the request, any field name.

  Browsers send an empty, unnamed part for a file input left empty: it is
  not an upload.
  """
  files = []
  for _, storage in flask.request.files.items(multi=True):
    data = storage.read()
    if data or storage.filename:
      files.append((display_name(storage.filename), data))
  return files


def create_app(colorize_fn: ColorizeFn,
               max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
               max_pixels: int = image_io.DEFAULT_MAX_PIXELS,
               max_concurrent: int = DEFAULT_MAX_CONCURRENT,
               max_queue: int = DEFAULT_MAX_QUEUE,
               backend_name: Optional[str] = None) -> flask.Flask:
  """The web app.

  Args:
    colorize_fn: a list of PNG bytes -> a list of colorized PNG bytes of the
      same sizes; may raise ColorizeError. Called from several threads.
    max_upload_bytes: larger requests get HTTP 413 (the page sends one photo
      per request, the no-JavaScript form all at once).
    max_pixels: larger images are refused before they are decoded.
    max_concurrent: requests decoded and colorized at once; further ones
      wait.
    max_queue: requests that may wait; beyond it HTTP 503 with Retry-After.
    backend_name: shown in the page's footer and /healthz; default
      colorize_fn's `description` attribute, if any.

  Returns:
    A Flask app; serve it with serve() or any WSGI server.

  Raises:
    ValueError: for a non-positive limit or a negative max_queue.
  """
  if max_upload_bytes <= 0 or max_pixels <= 0 or max_concurrent <= 0:
    raise ValueError("max_upload_bytes, max_pixels and max_concurrent must be "
                     "positive.")
  if max_queue < 0:
    raise ValueError(f"max_queue={max_queue} must be 0 or more.")
  # templates/ and static/ sit beside this module.
  app = flask.Flask(__name__, template_folder="templates",
                    static_folder="static")
  app.request_class = _InMemoryRequest
  app.config["MAX_CONTENT_LENGTH"] = max_upload_bytes
  backend_name = backend_name or getattr(colorize_fn, "description", "")
  request_queue = admission.RequestQueue(max_concurrent, max_queue)
  # Where tests and monitoring find it (Flask keeps per-app state here).
  app.extensions["colorizer_request_queue"] = request_queue
  max_upload_mb = f"{max_upload_bytes / 2**20:.3g}"

  def colorize_uploads(uploads: Sequence[Tuple[str, bytes]]) -> List[Result]:
    if not uploads:
      raise ColorizeError("No photo received: choose or drop one or more "
                          "photos first.")
    with request_queue.slot():
      prepared = [(name, *prepare_upload(name, data, max_pixels))
                  for name, data in uploads]
      outputs = list(colorize_fn([png for _, png, _, _ in prepared]))
    _check_outputs(outputs, [(width, height) for _, _, width, height in
                             prepared], [name for name, *_ in prepared])
    return [Result(name, width, height, png, output)
            for (name, png, width, height), output in zip(prepared, outputs)]

  def render_page(results=(), error=None, status=200):
    html = flask.render_template(
        "index.html", results=results, error=error,
        max_upload_bytes=max_upload_bytes, max_upload_mb=max_upload_mb,
        backend_name=backend_name)
    return html, status

  def wants_json() -> bool:
    return flask.request.path.startswith("/api/")

  def error_response(message: str, status: int):
    if wants_json():
      return flask.jsonify(error=message), status
    return render_page(error=message, status=status)

  @app.route("/", methods=["GET", "POST"])
  def index():
    if flask.request.method == "GET":
      return render_page()
    try:
      return render_page(results=colorize_uploads(_uploads()))
    except ColorizeError as error:
      return error_response(str(error), error.status_code)

  @app.post("/api/colorize")
  def api_colorize():
    as_png = flask.request.args.get("format") == "png"
    uploads = _uploads()
    if as_png and len(uploads) > 1:
      return error_response("format=png takes exactly one photo.", 400)
    try:
      results = colorize_uploads(uploads)
    except ColorizeError as error:
      return error_response(str(error), error.status_code)
    if as_png:
      return flask.send_file(io.BytesIO(results[0].colorized_png),
                             mimetype="image/png", as_attachment=False,
                             download_name=results[0].download_name)
    return flask.jsonify(results=[
        {"name": result.name, "width": result.width, "height": result.height,
         "png_base64": result.colorized_b64} for result in results])

  @app.get("/healthz")
  def healthz():
    return flask.jsonify(status="ok", backend=backend_name)

  @app.before_request
  def enter_queue():
    # Before the body is read: a refused request costs no upload's memory.
    if (flask.request.method != "POST" or
        flask.request.endpoint not in _QUEUED_ENDPOINTS):
      return None
    if not request_queue.try_enter():
      retry_after_s = request_queue.retry_after_s()
      response = flask.make_response(error_response(
          f"The server is busy colorizing other photos; try again in "
          f"{retry_after_s} s.", 503))
      response.headers["Retry-After"] = str(retry_after_s)
      return response
    flask.g.in_queue = True
    return None

  @app.teardown_request
  def leave_queue(unused_error):
    if flask.g.pop("in_queue", False):
      request_queue.leave()

  @app.errorhandler(werkzeug.exceptions.RequestEntityTooLarge)
  def too_large(_):
    return error_response(
        f"That upload is over the {max_upload_mb} MB limit: send fewer or "
        "smaller photos at once.", 413)

  @app.errorhandler(werkzeug.exceptions.MethodNotAllowed)
  def method_not_allowed(error):
    response = error.get_response()
    if wants_json():
      response.set_data(json.dumps({"error": f"{flask.request.method} is not "
                                             "allowed here; use POST."}))
      response.mimetype = "application/json"
    return response

  @app.errorhandler(werkzeug.exceptions.InternalServerError)
  def internal_error(_):
    # Flask has already logged the exception with its traceback.
    return error_response("The colorizer failed unexpectedly; the server log "
                          "has the details.", 500)

  @app.after_request
  def secure_headers(response):
    response.headers["Content-Security-Policy"] = _CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response

  return app


def serve(app: flask.Flask, host: str, port: int) -> None:
  """Serves app with werkzeug's threaded server until Ctrl+C or SIGTERM.

  Prints the page's URL (with the real port when port is 0) first. Call it
  from the main thread: the signals ask the server loop to stop (it checks
  twice a second) instead of raising KeyboardInterrupt wherever the loop
  happens to be, which could leave it stuck halfway through a step.
  """
  server = werkzeug.serving.make_server(host, port, app, threaded=True)

  def stop(unused_signum, unused_frame):
    # shutdown() waits for the loop to end, so not from the loop's thread.
    threading.Thread(target=server.shutdown, daemon=True).start()

  previous = {number: signal.signal(number, stop)
              for number in (signal.SIGINT, signal.SIGTERM)}
  shown_host = f"[{host}]" if ":" in host else host
  print(f"Colorizer page: http://{shown_host}:{server.server_port}/ "
        "(Ctrl+C to stop)", flush=True)
  try:
    server.serve_forever()
  finally:
    for number, handler in previous.items():
      signal.signal(number, handler)
    server.server_close()
