"""The search space of a sweep: which train flags take which values.

A parameter names a config field (a colorizer-train flag) and either a list
of values, `recon_weight=10,100`, or for a float flag a distribution,
`gen_learning_rate=loguniform:1e-4:1e-2` (or `uniform:LOW:HIGH`). Grid search
takes every combination of the lists; random search draws from the lists and
distributions with a seed, so the same command draws the same trials.

No TensorFlow here: this is parsing and combinatorics.
"""

import dataclasses
import itertools
import math
import os
import random
from typing import Any, Dict, List, Sequence

from colorizer import config as config_lib

MODES = ("grid", "random")
DISTRIBUTIONS = ("uniform", "loguniform")
# The sweep sets these train flags itself, per trial.
RESERVED_FLAGS = ("model_dir", "export_name")


@dataclasses.dataclass(frozen=True)
class Param:
  """One searched flag: a list of values, or a float distribution."""
  name: str
  values: tuple = ()
  distribution: str = ""  # "" for a list, else one of DISTRIBUTIONS.
  low: float = 0.0
  high: float = 0.0


def _config_fields() -> Dict[str, dataclasses.Field]:
  return {field.name: field for group in config_lib.GROUP_NAMES
          for field in dataclasses.fields(config_lib.GROUP_TYPES[group])}


def _parse_value(field: dataclasses.Field, text: str):
  """A flag value as the field's type, checked against its choices."""
  default, choices = field.default, field.metadata.get("choices")
  try:
    if isinstance(default, bool):
      if text.lower() not in ("true", "false", "1", "0"):
        raise ValueError(text)
      value = text.lower() in ("true", "1")
    elif isinstance(default, int):
      value = int(text)
    elif isinstance(default, float):
      value = float(text)
    else:
      value = text
  except ValueError:
    expected = ("true or false" if isinstance(default, bool) else
                "an integer" if isinstance(default, int) else "a number")
    raise ValueError(f"--grid: {field.name}={text!r}: expected "
                     f"{expected}.") from None
  if choices and value not in choices:
    raise ValueError(f"--grid: {field.name}={text!r}: expected one of "
                     f"{', '.join(choices)}.")
  return value


def _parse_one(spec: str, fields) -> Param:
  name, equals, rest = spec.partition("=")
  name = name.strip().lstrip("-")
  if not equals or not rest.strip():
    raise ValueError(f"--grid={spec!r}: expected NAME=V1,V2,... or "
                     "NAME=uniform:LOW:HIGH / NAME=loguniform:LOW:HIGH.")
  if name in RESERVED_FLAGS:
    raise ValueError(f"--grid: --{name} is set by the sweep, not searched.")
  if name not in fields:
    raise ValueError(f"--grid: {name!r} is not a colorizer-train config flag "
                     "(see colorizer-train --helpfull).")
  kind, _, bounds = rest.partition(":")
  if kind in DISTRIBUTIONS:
    if not isinstance(fields[name].default, float):
      raise ValueError(f"--grid={spec!r}: {kind} needs a float flag; list "
                       "the values of an int or string flag instead.")
    try:
      low, high = (float(bound) for bound in bounds.split(":"))
    except ValueError:
      raise ValueError(f"--grid={spec!r}: expected {kind}:LOW:HIGH.") from None
    if not low < high or (kind == "loguniform" and low <= 0.0):
      raise ValueError(f"--grid={spec!r}: need LOW < HIGH"
                       f"{' and LOW > 0' if kind == 'loguniform' else ''}.")
    return Param(name, distribution=kind, low=low, high=high)
  values = tuple(_parse_value(fields[name], text.strip())
                 for text in rest.split(","))
  if len(set(values)) != len(values):
    raise ValueError(f"--grid={spec!r}: repeated value.")
  return Param(name, values=values)


def parse_params(specs: Sequence[str]) -> List[Param]:
  """Parses --grid values into a search space.

  Args:
    specs: strings like "recon_weight=10,100", each holding one or more
      ';'-separated parameters ("recon_weight=10,100;gan_loss=vanilla,lsgan").

  Returns:
    The parameters, in order, with values of the flag's type.

  Raises:
    ValueError: naming --grid, for unknown or reserved flags, values of the
      wrong type or outside the flag's choices, bad ranges, duplicates.
  """
  fields = _config_fields()
  params = [_parse_one(part.strip(), fields) for spec in specs
            for part in spec.split(";") if part.strip()]
  if not params:
    raise ValueError("--grid: nothing to search; e.g. "
                     "--grid=recon_weight=10,100.")
  names = [param.name for param in params]
  repeated = sorted({name for name in names if names.count(name) > 1})
  if repeated:
    raise ValueError(f"--grid: {', '.join(repeated)} given more than once.")
  return params


def make_trials(params: Sequence[Param], mode: str, num_trials: int = 0,
                seed: int = 0) -> List[Dict[str, Any]]:
  """The trials' flag values, in a fixed order.

  Args:
    params: the search space.
    mode: "grid" (every combination of the lists; num_trials > 0 keeps the
      first that many) or "random" (num_trials draws: lists without
      repetition of a combination while only lists are searched, floats
      rounded to 3 significant digits so trial names stay readable).
    num_trials: see mode; required for random.
    seed: random search seed.

  Returns:
    One {flag name: value} dict per trial.

  Raises:
    ValueError: for an unknown mode, a grid over a distribution, or more
      random trials than distinct combinations.
  """
  if mode not in MODES:
    raise ValueError(f"--mode={mode}: expected grid or random.")
  if num_trials < 0:
    raise ValueError(f"--num_trials={num_trials}: must be >= 0.")
  names = [param.name for param in params]
  if all(not param.distribution for param in params):
    grid = [dict(zip(names, combo))
            for combo in itertools.product(*(p.values for p in params))]
  elif mode == "grid":
    raise ValueError("--mode=grid needs value lists; uniform:/loguniform: "
                     "ranges need --mode=random.")
  if mode == "grid":
    return grid[:num_trials] if num_trials else grid
  if num_trials < 1:
    raise ValueError("--mode=random needs --num_trials >= 1.")
  rng = random.Random(seed)
  if all(not param.distribution for param in params):
    if num_trials > len(grid):
      raise ValueError(f"--num_trials={num_trials}: the lists make only "
                       f"{len(grid)} distinct trials; use --mode=grid.")
    # A shuffle, not rng.sample: raising --num_trials later keeps the trials
    # already drawn (and run) as the first ones.
    rng.shuffle(grid)
    return grid[:num_trials]

  def draw(param):
    if not param.distribution:
      return rng.choice(param.values)
    if param.distribution == "uniform":
      value = rng.uniform(param.low, param.high)
    else:
      value = math.exp(rng.uniform(math.log(param.low), math.log(param.high)))
    return min(max(float(f"{value:.3g}"), param.low), param.high)

  return [{param.name: draw(param) for param in params}
          for _ in range(num_trials)]


def flag_text(value) -> str:
  """A value as the train binary's flag parser reads it back exactly."""
  if isinstance(value, bool):
    return "true" if value else "false"
  return repr(value) if isinstance(value, float) else str(value)


def trial_name(index: int, values: Dict[str, Any]) -> str:
  """trial_000_recon_weight=10_gan_loss=vanilla: its model dir's name."""
  parts = [f"{name}={value:g}" if isinstance(value, float) else
           f"{name}={flag_text(value)}" for name, value in values.items()]
  name = "_".join([f"trial_{index:03d}"] + parts)
  return name.replace(os.sep, "-").replace(" ", "-")
