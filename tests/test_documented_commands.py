"""Every documented colorizer-* command runs up to the work.

tests/documented_commands.py finds the commands (README.md, docs/,
savedmodels/, the binaries' docstrings) and says how each is checked, with
which substitutions.
"""

import re
import shlex

from absl import flags
import numpy as np
import pytest

from colorizer import flags_lib
from colorizer import presets
from tests import binaries
from tests import conftest
from tests import documented_commands as documented


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
  """One tiny source of each local kind: {kind: location}."""
  root = tmp_path_factory.mktemp("sources")
  png = lambda seed: (lambda: conftest.encoded(
      conftest.random_photo(8, 8, seed), "PNG"))
  conftest.write_files(str(root / "photos"), {
      f"{name}/{index}.png": png(index)
      for name in ("church", "dog") for index in range(2)})
  (root / "npz").mkdir()
  np.savez(root / "npz" / "train.npz",
           images=np.zeros((4, 8, 8, 3), np.uint8),
           labels=np.array([0, 1, 0, 1]))
  (root / "shards").mkdir()
  (root / "shards" / "train-00000-of-00001.tfrecord").touch()
  return {"folder": str(root / "photos"), "npz": str(root / "npz"),
          "tfrecord": str(root / "shards" / "*.tfrecord")}


COMMANDS = documented.documented_commands()


@pytest.mark.parametrize("command", COMMANDS,
                         ids=[command.where for command in COMMANDS])
def test_documented_command_runs_up_to_the_work(command, sources):
  try:
    documented.check_command(command, sources)
    error = None
  except (flags.Error, ValueError) as raised:
    error = raised
  if error:
    pytest.fail(f"{command.where}: {shlex.join(command.args)}\n"
                f"  fails: {error}", pytrace=False)


def test_every_binary_has_documented_commands():
  binaries_run = {command.args[0] for command in COMMANDS
                  if not command.inline}
  assert binaries_run == set(documented.BINARIES)
  readme = [command.args for command in COMMANDS
            if command.path == "README.md" and not command.inline]
  assert ("colorizer-train",) in readme  # The quickstart's, after `&&`.
  assert ("colorizer-train", "--dataset=folder:$HOME/photos",
          "--model_dir=runs/photos") in readme
  # Each binary's docstring, which its --help prints, shows a command.
  docstrings = {command.path for command in COMMANDS
                if command.path.startswith("pipelines/")}
  assert docstrings == {module.replace(".", "/") + ".py"
                        for module in documented.BINARIES.values()}


def test_extraction_joins_lines_and_expands_the_files_variables():
  markdown = "\n".join([
      "```sh",
      'COMMON="--preset=demo \\',
      '  --batch_size=4"',
      "TF_CONFIG='{\"cluster\": {},",
      "           \"task\": {}}' \\",
      "  colorizer-train $COMMON --model_dir=$HOME/run  # a comment",
      "tensorboard --logdir runs/x && colorizer-web > log.txt",
      "```",
      "Then `colorizer-export",
      "--model_dir=runs/x` and `colorizer-export --name` in prose.",
  ])
  commands = documented.extract_commands("x.md", markdown)
  assert [(command.line, command.args, command.inline)
          for command in commands] == [
              (4, ("colorizer-train", "--preset=demo", "--batch_size=4",
                   "--model_dir=$HOME/run"), False),
              (7, ("colorizer-web",), False),
              (9, ("colorizer-export", "--model_dir=runs/x"), True),
              (10, ("colorizer-export", "--name"), True)]


@pytest.mark.parametrize("markdown,message", [
    ("```sh\ncolorizer-train --image_sise=64\n```", "image_sise"),
    ("```sh\ncolorizer-train --dataset=folder:x --input_mode=sketch "
     "--ab_head=classes\n```", "--ab_head=classes"),
    ("```sh\ncolorizer-colorize --input=x.jpg\n```", "--model"),
    ("```sh\ncolorizer-colorize --model=m --input=a.jpg b.jpg\n```",
     "unexpected arguments"),
    ("`colorizer-web --modle`", "modle"),
    ("```sh\ncolorizer-sweep --sweep_dir=s --grid=base_filters=8,ten "
     "-- --dataset=demo\n```", "ten"),
    ("```sh\ncolorizer-sweep --sweep_dir=s --grid=base_filters=8,12 "
     "-- --preset=demo --image_size=100\n```", "--image_size=100"),
    ("```sh\ncolorizer-resize --input=x\n```", "no binary"),
])
def test_a_command_that_would_fail_fails(markdown, message, sources):
  (command,) = documented.extract_commands("x.md", markdown)
  with pytest.raises((flags.Error, ValueError), match=re.escape(message)):
    documented.check_command(command, sources)


def test_print_config_is_a_flagfile_of_the_run_and_trains_nothing(
    sources, tmp_path):
  model_dir = tmp_path / "run"
  result = binaries.run_main(
      "pipelines.train", f"--dataset=folder:{sources['folder']}",
      f"--model_dir={model_dir}", "--batch_size=8", "--print_config")
  assert result.returncode == 0, result.stderr
  assert not model_dir.exists()
  assert "--preset=photos" in result.stdout.splitlines()
  assert "--batch_size=8" in result.stdout.splitlines()
  assert "--image_size=96" in result.stdout.splitlines()  # The preset's.
  # Read back as a flagfile, it gives the same config.
  flagfile = tmp_path / "run.flags"
  flagfile.write_text(result.stdout)
  flag_values = _parsed_train(f"--flagfile={flagfile}")
  assert flag_values["model_dir"].value == str(model_dir)
  expected = flags_lib.config_from_flags(_parsed_train(
      f"--dataset=folder:{sources['folder']}", "--batch_size=8"))
  assert flags_lib.config_from_flags(flag_values) == expected
  # Every value is written out: another preset under it changes nothing.
  assert flags_lib.config_from_flags(
      flag_values, base=presets.pix2pix()) == expected


def test_the_preset_gives_way_to_a_mode_or_generator_it_cannot_serve(
    sources):
  folder = f"--dataset=folder:{sources['folder']}"
  sketch = flags_lib.config_from_flags(_parsed_train(
      folder, "--input_mode=sketch"))
  assert (sketch.model.ab_head, sketch.loss.recon_weight,
          sketch.loss.label_weight) == ("regression", 100.0, 1.0)
  encoder = flags_lib.config_from_flags(_parsed_train(
      folder, "--generator=mobilenet_unet"))
  assert (encoder.model.ab_head, encoder.loss.label_weight) == ("classes",
                                                                0.0)
  # What the user sets stays, for validate to judge.
  given = flags_lib.config_from_flags(_parsed_train(
      folder, "--input_mode=sketch", "--recon_weight=5", "--label_weight=2"))
  assert (given.loss.recon_weight, given.loss.label_weight) == (5.0, 2.0)


def _parsed_train(*args):
  flag_values = documented.binary_flags("pipelines.train")
  flag_values(["colorizer-train", *args])
  return flag_values
