"""The model that ships with colorizer: savedmodels/photos.

A MobileNetV2 U-Net trained by the photos preset on Imagenette's and
Places' photographs (its command and its quality table:
savedmodels/photos/README.md and docs/photos.md), committed in TF Serving's
layout, and used wherever a binary needs a model and none is given
(colorizer-web). Exports that no one named explicitly stay off its name
(personal_name), so that a training run never becomes what loads as the
shipped model.
"""

import os
from typing import Optional

SHIPPED_MODEL = os.path.join("savedmodels", "photos")
# Model names of shipped models, which automatic exports leave alone.
SHIPPED_NAMES = (os.path.basename(SHIPPED_MODEL),)
PERSONAL_PREFIX = "my_"
# The checkout this package was installed from (pip install -e .).
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def shipped_model_dir(search: Optional[tuple] = None) -> Optional[str]:
  """savedmodels/photos under the working directory or the checkout.

  Args:
    search: folders to look in, in order; default the working directory,
      then the checkout colorizer runs from.

  Returns:
    The model base dir (its highest version is what loads), or None if no
    folder holds one.
  """
  for folder in search or (os.getcwd(), _REPO_ROOT):
    path = os.path.join(folder, SHIPPED_MODEL)
    if os.path.isdir(path) and any(
        name.isdigit() and os.path.exists(
            os.path.join(path, name, "saved_model.pb"))
        for name in os.listdir(path)):
      return path
  return None


def personal_name(name: str) -> str:
  """The model name an automatic export takes for a run called name.

  Returns:
    name, or my_<name> if a shipped model has that name (photos ->
    my_photos).
  """
  return PERSONAL_PREFIX + name if name in SHIPPED_NAMES else name
