"""The serving docs agree with the code, the pins and each other.

* Every `tensorflow/serving` image in README.md and the docs carries the tag
  of the TensorFlow version setup.cfg pins: an untagged image is whatever
  `latest` is that day.
* docs/serving.md's signature table lists exactly the signatures
  colorizer/serving/export.py defines, and their inputs and outputs.
* The README and every page call the served model by one name, so that
  the docker command of one and the REST, gRPC or web-page call of another
  work together.
"""

import configparser
import glob
import os
import re

from colorizer.serving import export
from tests import conftest

DOCS = ["README.md"] + sorted(
    os.path.relpath(path, conftest.REPO_ROOT)
    for path in glob.glob(os.path.join(conftest.REPO_ROOT, "docs", "*.md")))
# The image name, not a path such as github.com/tensorflow/serving/...
_IMAGE = re.compile(r"(?<![\w/.-])tensorflow/serving(?::([\w.-]+))?(?![\w/])")
_TABLE_ROW = re.compile(r"^\| `(\w+)`[^|]*\|([^|]*)\|([^|]*)\|$", re.M)
# Where a served model's name is written: docker's MODEL_NAME, a REST URL, a
# gRPC request, a models.config entry.
_MODEL_NAME = (re.compile(r"MODEL_NAME=(\w+)"),
               re.compile(r"/v1/models/(\w+)"),
               re.compile(r'model_spec\.name = "(\w+)"'))


def _read(relative_path):
  with open(os.path.join(conftest.REPO_ROOT, relative_path),
            encoding="utf-8") as f:
    return f.read()


def _pinned_tensorflow_version():
  parser = configparser.ConfigParser()
  parser.read(os.path.join(conftest.REPO_ROOT, "setup.cfg"))
  requirements = parser["options"]["install_requires"]
  match = re.search(r"^\s*tensorflow\s*~=\s*([\d.]+)\s*$", requirements, re.M)
  assert match, "setup.cfg pins no tensorflow ~= version"
  return match.group(1)


def _signature_table():
  """{signature: (inputs cell, outputs cell)} of docs/serving.md's table."""
  text = _read("docs/serving.md")
  section = text.split("\n## Signatures\n", 1)[1].split("\n## ", 1)[0]
  return {name: (inputs, outputs)
          for name, inputs, outputs in _TABLE_ROW.findall(section)}


def test_every_tf_serving_image_is_tagged_with_the_pinned_version():
  version = _pinned_tensorflow_version()
  found = {path: _IMAGE.findall(_read(path)) for path in DOCS}
  assert found["README.md"] and found["docs/serving.md"]
  wrong = {path: tags for path, tags in found.items()
           if any(tag != version for tag in tags)}
  assert not wrong, f"tensorflow/serving images not tagged {version}: {wrong}"


def test_the_signature_table_lists_every_signature_with_its_tensors():
  defined = {value for name, value in vars(export).items()
             if name.endswith("_SIGNATURE")}
  table = _signature_table()
  assert set(table) == defined
  cells = " ".join(" ".join(row) for row in table.values())
  tensors = {value for name, value in vars(export).items()
             if name.startswith(("INPUT_", "OUTPUT_"))}
  missing = {name for name in tensors if f"`{name}`" not in cells}
  assert not missing, f"tensors missing from the signature table: {missing}"


def test_the_docs_serve_one_model_name():
  names = {}
  for path in DOCS:
    text = _read(path)
    # A models.config serves several models on purpose.
    text = re.sub(r"model_config_list \{.*?\n\}", "", text, flags=re.S)
    for pattern in _MODEL_NAME:
      for name in pattern.findall(text):
        names.setdefault(name, []).append(path)
  assert len(names) == 1, f"served model names differ: {names}"
