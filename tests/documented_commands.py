"""The colorizer-* commands the README and the docs show, and how to check one.

The commands come from README.md, docs/*.md and savedmodels/**/README.md:
each command of a shell code block (backslash continuations and quoted
newlines joined, `&&` chains split, redirections dropped) that runs a
colorizer binary, and each inline code span that starts with one; and from
the binaries' docstrings (pipelines/*.py), which their --help shows.

check_command parses each against the binary's own flags, so an unknown or
misspelt flag, a bad value, a missing required flag or a stray argument
fails. colorizer-train and colorizer-sweep commands then go through what the
binary does before any work: the preset, flags_lib.config_from_flags and
flags_lib.validate (for every trial of a sweep). Nothing trains and no model
is loaded.

The only substitutions:
  * `$NAME` is the value of a `NAME="..."` line earlier in the same file
    (docs/results.md shares flags between runs that way); other variables
    ($HOME, $PWD) stay as written.
  * In colorizer-train and colorizer-sweep commands, every folder:, npz: and
    tfrecord: source is replaced by a generated one of the same kind: users'
    folders ($HOME/photos) and the developers' (../shared/data/...) exist on
    their machines only. tfds: sources stay (validation checks the name and
    downloads nothing).
  * absl's own --help and --helpfull are dropped.
Inline code is prose that names a command, often in part: there a flag
without a value (`colorizer-export --decode_saturation`) or with a
placeholder (`--decode_saturation=...`, `=T`) only names the flag, which must
exist, and required flags may be left out.
"""

import ast
import configparser
import contextlib
import dataclasses
import glob
import importlib.util
import inspect
import os
import re
import shlex
from typing import Dict, List, Tuple
from unittest import mock

from absl import flags

from colorizer import flags_lib
from colorizer.tuning import search_space
from colorizer.tuning import sweep
from tests import conftest

DOC_GLOBS = ("README.md", "docs/*.md", "savedmodels/README.md",
             "savedmodels/*/README.md")
ABSL_HELP_FLAGS = ("--help", "--helpfull")
SHELL_LANGUAGES = ("sh", "shell", "bash", "console")
BINARY_GLOBS = ("pipelines/*.py",)  # Their docstrings, which --help shows.
# Training sources that name a place on someone's disk: (kind, location).
_LOCAL_SOURCE = re.compile(r"^(folder|npz|tfrecord):(.+)$")
# A value prose leaves open: --decode_saturation=... or =T.
_PLACEHOLDER = re.compile(r"\.\.\.|[A-Z][A-Z_]*")
_ASSIGNMENT = re.compile(r"^([A-Za-z_]\w*)=(.*)$", re.S)
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")
_SHELL_SEPARATORS = ("&&", "||", ";", "|")
_REDIRECTIONS = (">", ">>", "<", "2>", "&>")  # Each takes the next token.


def _console_scripts() -> Dict[str, str]:
  """{colorizer-train: pipelines.train, ...} from setup.cfg."""
  parser = configparser.ConfigParser()
  parser.read(os.path.join(conftest.REPO_ROOT, "setup.cfg"))
  scripts = {}
  for line in parser["options.entry_points"]["console_scripts"].splitlines():
    if line.strip():
      name, _, target = line.partition("=")
      scripts[name.strip()] = target.strip().split(":")[0]
  return scripts


BINARIES = _console_scripts()


@dataclasses.dataclass(frozen=True)
class Command:
  """One documented command line, variables expanded."""
  path: str  # Relative to the repository.
  line: int
  args: Tuple[str, ...]  # The binary first.
  inline: bool
  problem: str = ""  # Why it could not be split into arguments.

  @property
  def where(self) -> str:
    return f"{self.path}:{self.line}"


def _expand(text: str, variables: Dict[str, str]) -> str:
  """Replaces $NAME by a variable the file defined; others stay as written."""
  def value(match):
    name = match.group(1) or match.group(2)
    return variables.get(name, match.group(0))
  return _VARIABLE.sub(value, text)


def _shell_lines(lines: List[Tuple[int, str]]):
  """(line number, text) of each logical line of a shell block.

  A line ending in a backslash goes on on the next line, and so does one
  whose quotes are still open (a multi-line TF_CONFIG='...').
  """
  pending, start = "", None
  for number, line in lines:
    start = number if start is None else start
    if line.rstrip().endswith("\\"):
      pending += line.rstrip()[:-1] + " "
      continue
    pending += line
    try:
      shlex.split(pending, comments=True)
    except ValueError:  # An open quote.
      pending += "\n"
      continue
    yield start, pending
    pending, start = "", None
  if pending:
    yield start, pending


def _segments(tokens: List[str]):
  """The simple commands of a token list, without leading VAR=value or
  redirections."""
  segment, redirected = [], False
  for token in tokens + [_SHELL_SEPARATORS[0]]:
    if redirected or token in _REDIRECTIONS:
      redirected = not redirected and token in _REDIRECTIONS
    elif token in _SHELL_SEPARATORS:
      while segment and _ASSIGNMENT.match(segment[0]):
        segment.pop(0)
      if segment:
        yield segment
      segment = []
    else:
      segment.append(token)


def _is_binary(token: str) -> bool:
  return bool(re.fullmatch(r"colorizer-[a-z]+(-[a-z]+)*", token))


def _shell_commands(path, block, variables, definitions) -> List[Command]:
  """The colorizer commands of a shell block's (line number, text) lines.

  `NAME=value` lines update variables and append (line, name, value) to
  definitions.
  """
  found = []
  for start, text in _shell_lines(block):
    try:
      tokens = shlex.split(_expand(text, variables), comments=True)
    except ValueError as error:  # A quote left open at the block's end.
      found.append(Command(path, start, (text,), False, str(error)))
      continue
    assigned = [_ASSIGNMENT.match(token) for token in tokens]
    if tokens and all(assigned):
      for match in assigned:
        variables[match.group(1)] = match.group(2)
        definitions.append((start, match.group(1), match.group(2)))
    found += [Command(path, start, tuple(segment), False)
              for segment in _segments(tokens) if _is_binary(segment[0])]
  return found


def extract_commands(path: str, markdown: str) -> List[Command]:
  """Every colorizer-* command of one Markdown file, in file order."""
  found, variables = [], {}
  definitions = []  # (line number, name, value), in file order.
  prose = []  # The file with fenced blocks blanked (line numbers kept).
  block = None  # The open fenced block's (line number, text) pairs.
  for number, line in enumerate(markdown.splitlines(), start=1):
    if line.lstrip().startswith(("```", "~~~")):
      if block is None:
        block, language = [], line.strip().strip("`~").strip()
      elif language in SHELL_LANGUAGES:
        found += _shell_commands(path, block, variables, definitions)
        block = None
      else:
        # Output, JSON, Python: a command here would go untested.
        found += [Command(path, start, tuple(text.split()), False,
                          f"a command in a ```{language} block, not ```sh")
                  for start, text in block
                  if _is_binary((text.split() or [""])[0])]
        block = None
      prose.append("")
    elif block is not None:
      block.append((number, line))
      prose.append("")
    else:
      prose.append(line)
  text = "\n".join(prose)
  for match in re.finditer(r"`([^`]+)`", text):
    span = " ".join(match.group(1).split())
    if not _is_binary(span.split(" ")[0]):
      continue
    number = text.count("\n", 0, match.start()) + 1
    known = {name: value for line, name, value in definitions
             if line < number}
    try:
      args = tuple(shlex.split(_expand(span, known)))
      found.append(Command(path, number, args, True))
    except ValueError as error:
      found.append(Command(path, number, (span,), True, str(error)))
  return sorted(found, key=lambda command: command.line)


def docstring_commands(path: str, source: str) -> List[Command]:
  """The commands of a binary's docstring: its lines that start with one
  (indented, as the binaries write them), with their continuations."""
  docstring = ast.get_docstring(ast.parse(source), clean=False) or ""
  found, chain = [], []
  # The docstring opens on the file's first line.
  for number, line in enumerate(docstring.splitlines(), start=1):
    if chain or _is_binary((line.split() or [""])[0]):
      chain.append((number, line))
      if not line.rstrip().endswith("\\"):
        found += _shell_commands(path, chain, {}, [])
        chain = []
  return found


def documented_commands() -> List[Command]:
  commands = []
  for pattern in DOC_GLOBS + BINARY_GLOBS:
    for path in sorted(glob.glob(os.path.join(conftest.REPO_ROOT, pattern))):
      with open(path, encoding="utf-8") as f:
        extract = (docstring_commands if path.endswith(".py") else
                   extract_commands)
        commands += extract(os.path.relpath(path, conftest.REPO_ROOT),
                            f.read())
  return commands


def binary_flags(module_name: str) -> flags.FlagValues:
  """A fresh FlagValues holding every flag the binary module defines.

  The module is run as a private copy (not in sys.modules) while absl's
  DEFINE_* and mark_* functions are made to register on the new FlagValues,
  so the process-wide flags.FLAGS is untouched and binaries that share flag
  names (--model, --batch_size) do not collide.
  """
  flag_values = flags.FlagValues()

  def registering_here(function):
    signature = inspect.signature(function)

    def wrapper(*args, **kwargs):
      bound = signature.bind(*args, **kwargs)
      bound.arguments["flag_values"] = flag_values
      return function(*bound.args, **bound.kwargs)
    return wrapper

  spec = importlib.util.find_spec(module_name)
  module = importlib.util.module_from_spec(spec)
  with contextlib.ExitStack() as stack:
    for name in dir(flags):
      function = getattr(flags, name)
      if inspect.isfunction(function) and (
          "flag_values" in inspect.signature(function).parameters):
        stack.enter_context(mock.patch.object(flags, name,
                                              registering_here(function)))
    spec.loader.exec_module(module)
  return flag_values


def _parse(command: Command) -> Tuple[flags.FlagValues, List[str]]:
  """The binary's flags parsed from the command; and what they left over.

  Raises:
    flags.Error: as absl would exit with it.
    ValueError: for an argument that is not a flag.
  """
  flag_values = binary_flags(BINARIES[command.args[0]])
  argv = [command.args[0]]
  for arg in command.args[1:]:
    name = arg[2:] if arg.startswith("--") else ""
    if arg in ABSL_HELP_FLAGS:
      continue
    name, equals, value = name.partition("=")
    if command.inline and name in flag_values and (
        _PLACEHOLDER.fullmatch(value) if equals else
        not isinstance(flag_values[name], flags.BooleanFlag)):
      continue  # Prose naming a flag, not giving it a value.
    argv.append(arg)
  try:
    leftover = flag_values(argv)
  except flags.IllegalFlagValueError as error:
    if not (command.inline and "must have a value other than None" in
            str(error)):
      raise
    return flag_values, []  # A required flag left out of prose.
  if command.args[0] != "colorizer-sweep" and len(leftover) > 1:
    raise ValueError(f"unexpected arguments {leftover[1:]} (main refuses "
                     "them).")
  return flag_values, leftover[1:]


def _local_sources(args, sources: Dict[str, str]) -> List[str]:
  """args with every folder:, npz: and tfrecord: source replaced by ours."""
  replaced = []
  for arg in args:
    if arg.startswith("--dataset="):
      specs = arg.partition("=")[2].split(",")
      specs = [_LOCAL_SOURCE.sub(lambda match: f"{match.group(1)}:"
                                 f"{sources[match.group(1)]}", spec.strip())
               for spec in specs]
      arg = "--dataset=" + ",".join(specs)
    replaced.append(arg)
  return replaced


def check_command(command: Command, sources: Dict[str, str]) -> None:
  """Runs a command as far as its binary goes before any work.

  Raises:
    flags.Error or ValueError: what the binary would stop with.
  """
  if command.problem:
    raise ValueError(f"cannot split into arguments: {command.problem}")
  if command.args[0] not in BINARIES:
    raise ValueError(f"no binary {command.args[0]} in setup.cfg.")
  if command.args[0] in ("colorizer-train", "colorizer-sweep"):
    command = dataclasses.replace(
        command, args=tuple(_local_sources(command.args, sources)))
  flag_values, train_args = _parse(command)
  if command.args[0] == "colorizer-train":
    flags_lib.validate(flags_lib.config_from_flags(flag_values))
  if command.args[0] == "colorizer-sweep" and flag_values["grid"].present:
    train_args = _local_sources(train_args, sources)
    params = search_space.parse_params(flag_values["grid"].value)
    sweep.check_train_args(train_args, params)
    for values in search_space.make_trials(
        params, flag_values["mode"].value, flag_values["num_trials"].value,
        flag_values["seed"].value):
      sweep.trial_config(train_args, values)
