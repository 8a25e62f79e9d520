"""Grid and random search over the train binary's flags.

The search space (which flags, which values) is colorizer.tuning.search_space's.

Each trial runs `python -m pipelines.train --model_dir=<sweep_dir>/<trial>
<train flags> <trial's flags>` in its own process, rather than
train.train_and_evaluate in this one, because:
  * state stays per trial: the Keras mixed-precision policy (set per run),
    tf.function caches and accelerator memory all die with the process;
  * a trial that diverges (NonFiniteLossError), runs out of memory or is killed
    is recorded as failed, and the sweep goes on;
  * the trial is exactly the command a user would run (it is written to
    trial.json, its output to train.log), and resumes like one.
That costs TensorFlow's start-up, a few seconds per trial. Every trial's
config is still built and validated here first (colorizer.flags_lib), so a bad
value stops the sweep before anything trains.

The sweep dir holds one model dir per trial, an HParams config at its root
(the swept flags with their domains, and the eval/ metrics), and
results.json. Rerunning skips finished trials; an unfinished or failed trial
runs again and resumes from its last checkpoint.
"""

import dataclasses
import glob
import json
import os
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO

from absl import flags
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from colorizer import config as config_lib
from colorizer import flags_lib
from colorizer.tuning import search_space

RESULTS_FILE = "results.json"
TRIAL_FILE = "trial.json"
TRIAL_LOG = "train.log"
EVAL_METRICS_FILE = "eval_metrics.json"  # Written by train.train_and_evaluate.
# Ranking metrics from eval_metrics.json, True where higher is better.
# Colorfulness ranks the most vivid first; compare it with colorfulness_true.
METRIC_HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "ab_l1": False,
                           "colorfulness": True}
# The eval/ scalars the HParams dashboard shows for every trial.
HPARAMS_METRICS = ("psnr", "ssim", "colorfulness", "colorfulness_true",
                   "ab_l1", "psnr_gray", "ssim_gray", "ab_l1_gray")

# (command, log path) -> exit status.
TrialRunner = Callable[[List[str], str], int]


def _trial_flags(values: Dict[str, Any]) -> List[str]:
  return [f"--{name}={search_space.flag_text(value)}"
          for name, value in values.items()]


def trial_config(train_args: Sequence[str], values: Dict[str, Any]
                 ) -> config_lib.Config:
  """The config the train binary will build for a trial, validated.

  Raises:
    ValueError: for train flags the sweep owns or does not know, or a config
      that flags_lib.validate refuses.
  """
  flag_values = flags.FlagValues()
  flags_lib.define_config_flags(flag_values)
  argv = ["colorizer-train", *train_args, *_trial_flags(values)]
  try:
    leftover = flag_values(argv)
  except flags.Error as error:
    raise ValueError(f"train flags: {error}") from None
  if len(leftover) > 1:
    raise ValueError(f"train flags: unexpected arguments {leftover[1:]}.")
  config = flags_lib.config_from_flags(flag_values)
  flags_lib.validate(config)
  return config


def check_train_args(train_args: Sequence[str],
                     params: Sequence[search_space.Param]) -> None:
  """Refuses train flags that the sweep sets itself.

  Raises:
    ValueError: naming the flag.
  """
  searched = {param.name for param in params}
  for arg in train_args:
    name = arg.lstrip("-").partition("=")[0]
    if name.startswith("no") and name[2:] in searched:  # --noflip
      name = name[2:]
    if name in search_space.RESERVED_FLAGS:
      raise ValueError(f"--{name} is set by the sweep (one model dir per "
                       "trial, no export); export the best trial afterwards "
                       "with colorizer-export --model_dir=<its dir>.")
    if name in searched:
      raise ValueError(f"--{name} is both searched (--grid) and given as a "
                       "train flag; drop one.")


def write_hparams_config(sweep_dir: str,
                         params: Sequence[search_space.Param]) -> None:
  """Declares the swept flags and their domains for the HParams dashboard.

  Each trial's train binary records its own session (all its flags) in its
  eval/ run; this config, at the sweep dir's root, tells TensorBoard which
  flags were searched, over which domains, and which metrics to show. Earlier
  sweeps' configs at the root are removed first so the current one is the
  only one there.
  """
  for path in glob.glob(os.path.join(sweep_dir, "events.out.tfevents.*")):
    os.remove(path)
  hparams = []
  for param in params:
    if param.distribution:
      domain = hparams_api.RealInterval(param.low, param.high)
    else:
      domain = hparams_api.Discrete(list(param.values))
    hparams.append(hparams_api.HParam(param.name, domain))
  writer = tf.summary.create_file_writer(sweep_dir)
  with writer.as_default():
    hparams_api.hparams_config(
        hparams=hparams,
        metrics=[hparams_api.Metric(f"eval/{name}", display_name=name)
                 for name in HPARAMS_METRICS])
  writer.close()


def run_trial_subprocess(command: List[str], log_path: str) -> int:
  """Runs one trial's train command, appending its output to log_path."""
  with open(log_path, "a") as log:
    return subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,
                          check=False).returncode


def _read_json(path: str) -> Optional[dict]:
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def _write_json(path: str, content) -> None:
  with open(path + ".tmp", "w") as f:
    f.write(json.dumps(content, indent=2) + "\n")
  os.replace(path + ".tmp", path)


def sort_trials(trials: List[dict], metric: str) -> List[dict]:
  """Best first by metric; trials without it (failed, no eval) last."""
  sign = -1.0 if METRIC_HIGHER_IS_BETTER[metric] else 1.0

  def key(trial):
    value = (trial.get("metrics") or {}).get(metric)
    return (value is None, sign * value if value is not None else 0.0,
            trial["index"])

  return sorted(trials, key=key)


def format_table(trials: List[dict], metric: str) -> str:
  """The trials as a text table, in the given order, with their metrics."""
  param_names = list(trials[0]["params"]) if trials else []
  columns = ["rank", "trial", *param_names, *METRIC_HIGHER_IS_BETTER,
             "status"]
  rows = [columns]
  for rank, trial in enumerate(trials, 1):
    values = trial.get("metrics") or {}
    rows.append([str(rank), trial["name"],
                 *(search_space.flag_text(trial["params"][name])
                   for name in param_names),
                 *("-" if values.get(name) is None else f"{values[name]:.4g}"
                   for name in METRIC_HIGHER_IS_BETTER),
                 trial["status"]])
  widths = [max(len(row[column]) for row in rows)
            for column in range(len(columns))]
  lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths))
           .rstrip() for row in rows]
  better = "higher" if METRIC_HIGHER_IS_BETTER[metric] else "lower"
  return "\n".join([f"Trials by {metric} ({better} is better):"] + lines)


def _log_tail(log_path: str, num_lines: int = 20) -> str:
  if not os.path.exists(log_path):
    return ""
  with open(log_path, errors="replace") as f:
    return "".join(f.readlines()[-num_lines:])


def run_sweep(sweep_dir: str, params: Sequence[search_space.Param],
              mode: str = "grid", num_trials: int = 0, seed: int = 0,
              train_args: Sequence[str] = (), metric: str = "psnr",
              runner: TrialRunner = run_trial_subprocess,
              stream: Optional[TextIO] = sys.stdout) -> List[dict]:
  """Runs (or resumes) a search and writes sweep_dir/results.json.

  Args:
    sweep_dir: one model dir per trial goes below it.
    params: the search space (search_space.parse_params).
    mode: "grid" or "random" (see search_space.make_trials).
    num_trials: see search_space.make_trials.
    seed: random search seed.
    train_args: flags for every trial's train binary (--preset, --dataset,
      --train_steps, ...), not --model_dir or --export_name.
    metric: the ranking metric, a key of METRIC_HIGHER_IS_BETTER.
    runner: runs one trial's command; the default is a subprocess.
    stream: where a line per trial goes (None: nowhere).

  Returns:
    One record per trial, best first: name, index, params, status ("done"
    or "failed"), metrics (the trial's last eval/ metrics, or None), model_dir,
    command, train_steps, seconds.

  Raises:
    ValueError: for a bad metric, search space or train flag, before any
      trial runs.
  """
  if metric not in METRIC_HIGHER_IS_BETTER:
    raise ValueError(f"--metric={metric}: expected one of "
                     f"{', '.join(METRIC_HIGHER_IS_BETTER)}.")
  check_train_args(train_args, params)
  say = (lambda text: print(text, file=stream, flush=True)) if stream else (
      lambda text: None)
  planned = []
  trials = search_space.make_trials(params, mode, num_trials, seed)
  for index, values in enumerate(trials):
    config = trial_config(train_args, values)
    name = search_space.trial_name(index, values)
    model_dir = os.path.join(sweep_dir, name)
    train_flags = [f"--model_dir={model_dir}", *train_args,
                   *_trial_flags(values), "--export_name="]
    planned.append({"name": name, "index": index, "params": values,
                    "model_dir": model_dir,
                    "train_steps": config.train.train_steps,
                    "command": [sys.executable, "-m", "pipelines.train",
                                *train_flags]})
  os.makedirs(sweep_dir, exist_ok=True)
  write_hparams_config(sweep_dir, params)
  records = []
  for count, plan in enumerate(planned, 1):
    trial_file = os.path.join(plan["model_dir"], TRIAL_FILE)
    log_path = os.path.join(plan["model_dir"], TRIAL_LOG)
    previous = _read_json(trial_file)
    # The interpreter's path may differ between reruns; the flags may not.
    if (previous and previous.get("status") == "done" and
        previous.get("command", [])[3:] == plan["command"][3:]):
      say(f"[{count}/{len(planned)}] {plan['name']}: finished earlier, "
          "skipped")
      records.append(previous)
      continue
    say(f"[{count}/{len(planned)}] {plan['name']}: training to step "
        f"{plan['train_steps']} (log: {log_path})")
    os.makedirs(plan["model_dir"], exist_ok=True)
    start = time.perf_counter()
    returncode = runner(plan["command"], log_path)
    record = dict(plan, status="done" if returncode == 0 else "failed",
                  returncode=returncode, seconds=time.perf_counter() - start,
                  metrics=_read_json(os.path.join(plan["model_dir"],
                                                  EVAL_METRICS_FILE)))
    if returncode:
      record["log_tail"] = _log_tail(log_path)
      last_line = record["log_tail"].strip().splitlines()[-1:] or [""]
      say(f"    failed (exit {returncode}): {last_line[0]}")
    else:
      value = (record["metrics"] or {}).get(metric)
      say(f"    done in {record['seconds']:.0f}s: {metric} "
          f"{'-' if value is None else f'{value:.4g}'}")
    _write_json(trial_file, record)
    records.append(record)
  results = sort_trials(records, metric)
  _write_json(os.path.join(sweep_dir, RESULTS_FILE), {
      "metric": metric,
      "higher_is_better": METRIC_HIGHER_IS_BETTER[metric],
      "mode": mode, "seed": seed, "train_args": list(train_args),
      "params": [dataclasses.asdict(param) for param in params],
      "trials": results})
  return results
