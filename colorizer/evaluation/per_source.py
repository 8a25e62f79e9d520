"""colorizer-evaluate over several --dataset sources: one report each.

`--dataset=folder:imagenette/train,folder:places/train` scores each source's
own split (for --split=val, the validation split it had in training) as a
separate evaluation, with its reports under <output_dir>/<source name>/, so a
model trained on a mix is judged on every kind of photo it learned from.
"""

import os
from typing import Any, List, Tuple

from colorizer.data import mixture
from colorizer.evaluation import evaluate_lib
from colorizer.evaluation import evaluate_report


def evaluate_each_source(dataset: str = "", output_dir: str = "",
                         output_json: str = "", **evaluate_args: Any
                         ) -> List[Tuple[str, Any, dict]]:
  """evaluate_lib.evaluate for each source of a --dataset list.

  Args:
    dataset: a --dataset value; with one source (or none: the model's own)
      this is a single evaluation.
    output_dir: reports of source NAME go to <output_dir>/NAME (default
      output dir as evaluate_lib's).
    output_json: with several sources, NAME's JSON goes to <stem>_NAME.json.
    **evaluate_args: the rest of evaluate_lib.evaluate's arguments.

  Returns:
    [(source name, EvalResult, report paths)] in --dataset order; the name
    is "" for a single evaluation.

  Raises:
    ValueError: as evaluate_lib.evaluate, or for a bad --dataset list.
  """
  specs = mixture.split_specs(dataset) if dataset else []
  if len(specs) < 2:
    result, paths = evaluate_lib.evaluate(
        dataset=dataset, output_dir=output_dir, output_json=output_json,
        **evaluate_args)
    return [("", result, paths)]
  base_dir = output_dir or evaluate_report.default_output_dir(
      evaluate_args.get("model_path", ""), evaluate_args.get("model_dir", ""))
  stem, extension = os.path.splitext(output_json)
  reports = []
  for name, spec in zip(mixture.source_names(specs), specs):
    result, paths = evaluate_lib.evaluate(
        dataset=spec, output_dir=os.path.join(base_dir, name),
        output_json=f"{stem}_{name}{extension or '.json'}" if output_json
        else "", **evaluate_args)
    reports.append((name, result, paths))
  return reports
