"""Runs a binary's main in this process, as `python -m <module>` would.

A subprocess pays for a TensorFlow import and start-up, about ten seconds on
two busy cores, to check a flag error found before any real work. Tests of
such errors call main here instead; each binary keeps one end-to-end
subprocess test of its own.
"""

import contextlib
import dataclasses
import importlib
import io
import logging
import sys

from absl import app
from absl import flags


@dataclasses.dataclass(frozen=True)
class Result:
  """What the process would have shown: its exit status and its output."""
  returncode: int
  stdout: str
  stderr: str


def run_main(module_name: str, *args: str) -> Result:
  """Parses args as app.run does, then calls the module's main.

  The module's flags are defined for this call only and removed afterwards,
  so binaries that share flag names (--model, --model_dir) can be run one
  after another in one process.

  Args:
    module_name: e.g. "pipelines.train" or "tools.decode_grid".
    *args: the command line after the program name.

  Returns:
    The exit status (a message given to sys.exit is printed to stderr and
    gives 1, as in a real process) and what was printed.
  """
  was_parsed = flags.FLAGS.is_parsed()
  newly_imported = module_name not in sys.modules
  # Other binaries' flags (a test module may have imported one) are set
  # aside while this one runs, so that names they share do not collide.
  set_aside = {name: flags.FLAGS[name] for name in list(flags.FLAGS)
               if not _is_absl_flag(name)}
  for name in set_aside:
    delattr(flags.FLAGS, name)
  stdout, stderr = io.StringIO(), io.StringIO()
  # The binary's log lines, at INFO as app.run shows them: absl's own handler
  # keeps the stderr of its first use.
  absl_logger = logging.getLogger("absl")
  log_handler = logging.StreamHandler(stderr)
  log_level = absl_logger.level
  absl_logger.addHandler(log_handler)
  absl_logger.setLevel(logging.INFO)
  returncode = 0
  try:
    module = sys.modules.get(module_name)
    # Reloading defines the module's flags again.
    module = (importlib.reload(module) if module is not None else
              importlib.import_module(module_name))
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(
        stderr):
      try:
        # Exits with status 1 and one message on a flag absl cannot parse.
        argv = app.parse_flags_with_usage([module_name, *args])
        module.main(argv)
      except SystemExit as exit_:
        if isinstance(exit_.code, str):
          print(exit_.code, file=sys.stderr)
          returncode = 1
        else:
          returncode = exit_.code or 0
      except app.UsageError as error:
        print(f"{module_name}: {error}", file=sys.stderr)
        returncode = 1
  finally:
    absl_logger.removeHandler(log_handler)
    absl_logger.setLevel(log_level)
    flags.FLAGS.unparse_flags()
    if was_parsed:
      flags.FLAGS.mark_as_parsed()
    for name in list(flags.FLAGS):
      if not _is_absl_flag(name):
        delattr(flags.FLAGS, name)
    for name, flag in set_aside.items():
      flags.FLAGS[name] = flag
    if newly_imported:
      sys.modules.pop(module_name, None)
  return Result(returncode, stdout.getvalue(), stderr.getvalue())


def _is_absl_flag(name: str) -> bool:
  """absl's own flags (--helpfull, --logtostderr, ...), kept throughout."""
  module = flags.FLAGS.find_module_defining_flag(name, default="")
  return module.startswith("absl")
