"""The colorize functions behind colorizer.web.server's page.

A colorize_fn takes a list of encoded images (PNG, as web_app prepares them)
and returns a list of colorized PNGs of the same sizes, or raises
ColorizeError with a message for the user. Two are provided:
  * saved_model_colorizer: an exported SavedModel in this process;
  * serving_colorizer: TF Serving's REST predict API, forwarded to; this one
    imports no TensorFlow, so a page in front of TF Serving starts fast and
    small.
"""

import base64
import json
import urllib.error
import urllib.request
from typing import Callable, List

ColorizeFn = Callable[[List[bytes]], List[bytes]]

SERVING_TIMEOUT_S = 300


class ColorizeError(Exception):
  """A photo that cannot be colorized; the message is shown to the user.

  Attributes:
    status_code: 400 when the photo is at fault, 502 when the backend (TF
      Serving) failed.
  """

  def __init__(self, message: str, status_code: int = 400):
    super().__init__(message)
    self.status_code = status_code


def saved_model_colorizer(model_path: str) -> ColorizeFn:
  """A colorize_fn that runs an exported SavedModel in this process.

  Args:
    model_path: a version dir (savedmodels/demo/3) or a model dir
      (savedmodels/demo: its highest integer version).

  Returns:
    The colorize_fn; its `description` is the version dir.

  Raises:
    ValueError: if there is no loadable SavedModel there.
  """
  # TensorFlow is imported here so that the page in front of TF Serving
  # starts fast and small.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from colorizer.serving import colorize_lib  # pylint: disable=g-import-not-at-top
  model = colorize_lib.SavedModelColorizer(model_path)

  def colorize(images: List[bytes]) -> List[bytes]:
    outputs = []
    for image_bytes in images:
      try:
        outputs.append(model.colorize_png(image_bytes))
      except tf.errors.InvalidArgumentError as error:
        raise ColorizeError(
            f"The model refused an image: {colorize_lib.error_summary(error)}"
        ) from error
    return outputs

  colorize.description = model.model_dir
  return colorize


def _serving_error(error: urllib.error.HTTPError) -> str:
  body = error.read().decode("utf-8", "replace")
  try:
    return str(json.loads(body)["error"])
  except (ValueError, KeyError, TypeError):
    return body.strip()[:300] or error.reason


def _prediction_b64(prediction) -> str:
  # One output: TF Serving gives its value ({"b64": ...}); several outputs:
  # a dict by output name.
  if isinstance(prediction, dict) and "colorized_bytes" in prediction:
    prediction = prediction["colorized_bytes"]
  if isinstance(prediction, dict) and isinstance(prediction.get("b64"), str):
    return prediction["b64"]
  raise ValueError(f"unexpected prediction {str(prediction)[:80]}")


def serving_colorizer(url: str,
                      timeout_s: float = SERVING_TIMEOUT_S) -> ColorizeFn:
  """A colorize_fn that forwards to TF Serving's REST predict API.

  Sends {"instances": [{"b64": ...}, ...]} (the row format; serving_default
  has the one input image_bytes) and reads {"predictions": [{"b64": ...}]}.

  Args:
    url: e.g. http://localhost:8501/v1/models/demo:predict.
    timeout_s: per request.

  Returns:
    The colorize_fn; its `description` is the URL.

  Raises:
    ValueError: if url is not an http(s) URL.
  """
  if not url.startswith(("http://", "https://")):
    raise ValueError(f"--serving_url={url}: expected an http:// or https:// "
                     "URL such as http://localhost:8501/v1/models/demo:predict")
  # TF Serving is an internal service: proxies from the environment, meant
  # for the internet, would intercept even localhost.
  opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

  def colorize(images: List[bytes]) -> List[bytes]:
    body = json.dumps({"instances": [
        {"b64": base64.b64encode(image).decode("ascii")} for image in images]})
    request = urllib.request.Request(
        url, data=body.encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json"})
    try:
      with opener.open(request, timeout=timeout_s) as response:
        predictions = json.load(response)["predictions"]
      if not isinstance(predictions, list):
        raise ValueError("predictions is not a list")
      return [base64.b64decode(_prediction_b64(prediction), validate=True)
              for prediction in predictions]
    except urllib.error.HTTPError as error:
      # TF Serving answers 400 for INVALID_ARGUMENT: the image's fault.
      raise ColorizeError(
          f"TF Serving at {url} answered HTTP {error.code}: "
          f"{_serving_error(error)}", 400 if error.code == 400 else 502
      ) from error
    except (urllib.error.URLError, OSError) as error:
      reason = getattr(error, "reason", error)
      raise ColorizeError(f"Cannot reach TF Serving at {url}: {reason}",
                          502) from error
    except (ValueError, KeyError, TypeError) as error:
      raise ColorizeError(f"TF Serving at {url} sent an unexpected reply: "
                          f"{error}", 502) from error

  colorize.description = url
  return colorize
