r"""Regenerates docs/web_screenshot.png: the colorizer-web page in Chromium.

Run from the repository root (needs chromium, chromium-driver, selenium):

  python -m tools.make_web_screenshot --model=savedmodels/demo \
      --label=savedmodels/demo/1

Without --model an untrained tiny model is exported to a temporary folder:
the page is real, its colors are not. The input is demo scene 3, in gray.
"""

import os
import tempfile
import threading

from absl import app
from absl import flags
from PIL import Image
import werkzeug.serving

from colorizer import presets
from colorizer.data import demo_data
from colorizer.model import networks
from colorizer.serving import colorize_lib
from colorizer.serving import export
from colorizer.web import server
from tests.web import test_web

_MODEL = flags.DEFINE_string("model", None, "Exported SavedModel; default an "
                             "untrained tiny one.")
_OUTPUT = flags.DEFINE_string("output", "docs/web_screenshot.png", "PNG path.")
_WIDTH = flags.DEFINE_integer("width", 1200, "Browser window width.")
_LABEL = flags.DEFINE_string(
    "label", None, "The model name in the page's footer; default its path "
    "(docs/web.md's shows savedmodels/demo/1, what the quickstart makes).")


def main(argv):
  del argv
  with tempfile.TemporaryDirectory() as temp_dir:
    model_path = _MODEL.value
    if not model_path:
      config = presets.tiny()
      model_path = export.export(networks.build_generator(config), config,
                                 temp_dir, "tiny")
    gray = colorize_lib.gray_with_same_lightness(
        demo_data.render_scene(3, 512).numpy())
    photo_path = os.path.join(temp_dir, "landscape_1950.png")
    Image.fromarray(gray).save(photo_path)
    page = server.create_app(
        server.saved_model_colorizer(model_path),
        backend_name=_LABEL.value or (None if _MODEL.value else
                                      "an untrained tiny model"))
    http_server = werkzeug.serving.make_server("127.0.0.1", 0, page, threaded=True)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()
    driver = test_web.chromium_driver(os.path.join(temp_dir, "profile"),
                                      window_size=(_WIDTH.value, 900))
    try:
      driver.get(f"http://127.0.0.1:{http_server.server_port}/")
      driver.find_element("id", "file-input").send_keys(photo_path)
      driver.find_element("id", "colorize-button").click()
      test_web.wait_for_results(driver, 1)
      height = driver.execute_script(
          "return document.documentElement.scrollHeight;")
      # A viewport as tall as the page: the whole page, and no scroll bar.
      driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
          "width": _WIDTH.value, "height": height, "deviceScaleFactor": 1,
          "mobile": False})
      driver.save_screenshot(_OUTPUT.value)
    finally:
      driver.quit()
      http_server.shutdown()
  print(f"Wrote {_OUTPUT.value} ({model_path}).")


if __name__ == "__main__":
  app.run(main)
