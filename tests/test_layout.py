"""The package layout: imports point one way, and no two modules cycle.

Every `import` in colorizer/ counts, including those inside functions (a
lazy import is still a dependency).
"""

import ast
import os

import pytest

from tests import conftest

PACKAGE_DIR = os.path.join(conftest.REPO_ROOT, "colorizer")
# Lower ranks sit below higher ones: a module may import its own subpackage
# and any of lower rank, never one of higher rank.
RANKS = {
    "config": 0, "presets": 0, "color": 0, "progress": 0, "hardware": 0,
    "data": 1,
    "model": 2,
    "flags_lib": 2.5,  # Validates configs against data and model.
    "serving": 3,
    "evaluation": 4,
    "training": 5,
    "tuning": 6, "web": 6,
}
SUBPACKAGES = ("data", "model", "training", "evaluation", "serving", "web",
               "tuning")


def _modules():
  """{dotted module name: path} of every module under colorizer/."""
  found = {}
  for root, _, files in os.walk(PACKAGE_DIR):
    for name in files:
      if name.endswith(".py"):
        path = os.path.join(root, name)
        relative = os.path.relpath(path, os.path.dirname(PACKAGE_DIR))
        dotted = relative[:-3].replace(os.sep, ".")
        found[dotted.removesuffix(".__init__")] = path
  return found


def _imports(path, modules):
  """The colorizer modules `path` imports (any depth of the file)."""
  imported = set()
  for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      # `from colorizer.data import image_io` names a module;
      # `from colorizer.data.image_io import X` names a module's member.
      names = [f"{node.module}.{alias.name}" for alias in node.names]
      names = [name if name in modules else node.module for name in names]
    else:
      continue
    imported.update(name for name in names
                    if name.startswith("colorizer.") and name in modules)
  return imported


def _unit(module):
  """colorizer.data.pipeline -> data; colorizer.config -> config."""
  return module.split(".")[1]


MODULES = _modules()
# The package's own __init__ (a docstring) is left out: it belongs to no unit.
GRAPH = {module: _imports(path, MODULES) - {module}
         for module, path in MODULES.items() if module != "colorizer"}


def test_every_module_belongs_to_a_ranked_unit():
  units = {_unit(module) for module in MODULES if module != "colorizer"}
  assert units <= set(RANKS), sorted(units - set(RANKS))
  for package in SUBPACKAGES:
    doc = ast.get_docstring(ast.parse(open(
        MODULES[f"colorizer.{package}"], encoding="utf-8").read()))
    assert doc and "May import" in doc, package


def test_imports_point_down():
  upward = [(module, target) for module, targets in GRAPH.items()
            for target in targets
            if RANKS[_unit(target)] > RANKS[_unit(module)]]
  assert not upward, upward


def test_no_import_cycles():
  state = {}  # module -> "visiting" | "done"

  def visit(module, path):
    if state.get(module) == "done":
      return
    if state.get(module) == "visiting":
      pytest.fail(f"import cycle: {' -> '.join(path + [module])}")
    state[module] = "visiting"
    for target in sorted(GRAPH[module]):
      visit(target, path + [module])
    state[module] = "done"

  for module in sorted(GRAPH):
    visit(module, [])


def test_the_checker_sees_upward_and_cyclic_imports(tmp_path):
  # The rules above would pass vacuously if _imports saw nothing.
  assert "colorizer.model.colorizer_model" in GRAPH[
      "colorizer.training.steps"]
  fake = tmp_path / "fake.py"
  fake.write_text("def f():\n  from colorizer.training import train\n"
                  "import colorizer.data.pipeline\n")
  assert _imports(str(fake), MODULES) == {"colorizer.training.train",
                                           "colorizer.data.pipeline"}


def test_training_names_no_model_variant():
  for module, targets in GRAPH.items():
    if _unit(module) == "training":
      variants = {target for target in targets if target in (
          "colorizer.model.ab_classes", "colorizer.model.encoder_unet",
          "colorizer.model.label_head")}
      assert not variants, (module, variants)


def _module_level_flags(path):
  """Names of the absl flags a module defines when imported."""
  names = []
  for node in ast.parse(open(path, encoding="utf-8").read()).body:
    value = getattr(node, "value", None)
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
        and value.func.attr.startswith("DEFINE") and value.args and \
        isinstance(value.args[0], ast.Constant):
      names.append(value.args[0].value)
  return names


def test_modules_the_tests_import_define_no_flag_twice():
  # absl flags live in one process-wide registry: two imported modules that
  # define the same flag fail, in whichever xdist worker gets both tests.
  tests_dir = os.path.join(conftest.REPO_ROOT, "tests")
  imported = set()
  for root, _, files in os.walk(tests_dir):
    for name in files:
      if name.endswith(".py"):
        tree = ast.parse(open(os.path.join(root, name),
                              encoding="utf-8").read())
        for node in ast.walk(tree):
          if isinstance(node, ast.ImportFrom) and node.module and \
              node.module.split(".")[0] in ("benchmarks", "tools",
                                            "pipelines"):
            imported.update(f"{node.module}.{alias.name}"
                            for alias in node.names)
  owners = {}
  for module in sorted(imported):
    path = os.path.join(conftest.REPO_ROOT, *module.split(".")) + ".py"
    if os.path.exists(path):
      for flag in _module_level_flags(path):
        owners.setdefault(flag, []).append(module)
  twice = {flag: found for flag, found in owners.items() if len(found) > 1}
  assert not twice, twice
  # The check sees flags: tools.contact_sheet, which a test imports, has some.
  assert "row_height" in owners
