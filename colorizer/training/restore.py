"""Starting a run's state: from a checkpoint, or from the training data.

A resumed run restores everything its checkpoint holds; a new one derives
the a*b* class weights from the training data. A run continued with
--rebalance_mix lowered below 1 does both.
"""

from absl import logging
import tensorflow as tf

from colorizer import config as config_lib
from colorizer.data import pipeline
from colorizer.model import colorizer_model
from colorizer.training import steps


def initialize_from_data(config: config_lib.Config,
                         state: steps.TrainState,
                         class_weights_only: bool = False) -> None:
  """Runs the model's data-dependent initialization on training batches."""
  train_ds, _, _ = pipeline.make_datasets(config.data, config.train.batch_size,
                                          config.train.seed)
  logging.info(state.model.initialize_from_data(
      (ab_normalized for _, ab_normalized
       in train_ds.take(config.loss.prior_batches)),
      class_weights_only=class_weights_only))


def restore(state: steps.TrainState, checkpoint_path: str) -> bool:
  """Restores a checkpoint; True if the run's class weights must be derived.

  Everything the checkpoint should hold must match, except the
  cross-entropy's class weights: they come from the training data, and a run
  continued with --rebalance_mix lowered below 1 (a branch of a run trained
  without rebalancing) has them where its checkpoint does not.
  """
  saved = {name.split("/")[0]
           for name, _ in tf.train.list_variables(checkpoint_path)}
  derive = (state.model.class_weights is not None
            and colorizer_model.CLASS_WEIGHTS_ITEM not in saved)
  checkpoint = state.checkpoint(
      leave_out=(colorizer_model.CLASS_WEIGHTS_ITEM,) if derive else ())
  checkpoint.restore(checkpoint_path).assert_existing_objects_matched()
  logging.info("Resumed from %s at step %d%s.", checkpoint_path,
               int(state.step.numpy()),
               "; it did not rebalance, so the class weights come from the "
               "data" if derive else "")
  return derive
