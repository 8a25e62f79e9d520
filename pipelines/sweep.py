r"""Searches colorizer-train's flags: one training run per trial.

Every combination of two lists (4 trials), each trial trained with the flags
after `--`:

  colorizer-sweep --sweep_dir=runs/sweep \
      --grid="recon_weight=10,100;gan_loss=vanilla,lsgan" \
      -- --dataset=demo --train_steps=1500

Eight random draws, one of them from a log-uniform range:

  colorizer-sweep --sweep_dir=runs/lr --mode=random --num_trials=8 --seed=1 \
      --grid=gen_learning_rate=loguniform:1e-4:3e-3 --grid=base_filters=16,32 \
      --metric=ab_l1 -- --preset=cifar10 --dataset=tfds:cifar10

Each trial trains in runs/sweep/trial_000_recon_weight=10_gan_loss=vanilla/
(and so on) in its own process, logging to train.log there. At the end the
trials are printed best first by --metric and written to
<sweep_dir>/results.json; `tensorboard --logdir <sweep_dir>` compares them in
the HParams tab. Rerunning the same command skips finished trials and resumes
unfinished ones.
"""

import sys

from absl import app
from absl import flags

_SWEEP_DIR = flags.DEFINE_string(
    "sweep_dir", None, "One model dir per trial, the HParams config and "
    "results.json go here.")
_GRID = flags.DEFINE_multi_string(
    "grid", [], "A searched train flag: NAME=V1,V2,... or, for a float flag "
    "with --mode=random, NAME=uniform:LOW:HIGH or NAME=loguniform:LOW:HIGH. "
    "Repeat the flag, or separate parameters with ';'.")
_MODE = flags.DEFINE_enum(
    "mode", "grid", ["grid", "random"],
    "grid: every combination of the lists (--num_trials > 0 keeps the first "
    "N); random: --num_trials draws, reproducible with --seed.")
_NUM_TRIALS = flags.DEFINE_integer("num_trials", 0,
                                   "Trials for --mode=random (required), or "
                                   "a cap for --mode=grid.")
_SEED = flags.DEFINE_integer("seed", 0, "Random search seed (the training "
                             "seed is the train flag --seed).")
_METRIC = flags.DEFINE_enum(
    "metric", "psnr", ["psnr", "ssim", "ab_l1", "colorfulness"],
    "Ranks the trials by their last validation value of this metric "
    "(ab_l1: lower is better; the others: higher).")
flags.mark_flag_as_required("sweep_dir")


def main(argv):
  from colorizer.tuning import search_space  # pylint: disable=g-import-not-at-top
  from colorizer.tuning import sweep  # pylint: disable=g-import-not-at-top
  train_args = argv[1:]  # Everything after `--`.
  try:
    params = search_space.parse_params(_GRID.value)
    results = sweep.run_sweep(
        _SWEEP_DIR.value, params, mode=_MODE.value,
        num_trials=_NUM_TRIALS.value, seed=_SEED.value,
        train_args=train_args, metric=_METRIC.value)
  except ValueError as error:
    sys.exit(f"colorizer-sweep: error: {error}")
  print()
  print(sweep.format_table(results, _METRIC.value))
  print(f"\nResults: {_SWEEP_DIR.value}/{sweep.RESULTS_FILE}")
  print(f"Compare the trials in TensorBoard's HParams tab:  tensorboard "
        f"--logdir {_SWEEP_DIR.value}")
  failed = [trial["name"] for trial in results if trial["status"] != "done"]
  if failed:
    sys.exit(f"colorizer-sweep: {len(failed)} trial(s) failed (see their "
             f"train.log): {', '.join(failed)}")


def run():
  app.run(main)


if __name__ == "__main__":
  run()
