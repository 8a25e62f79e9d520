"""Training: state, the per-replica step, the loop, distribution.

The train state and step closures (`steps`), the only training loop
(`train.train_and_evaluate`), `tf.distribute` strategy choice
(`distribute`) and the validation it runs while training (`validation`).

May import: `colorizer.data`, `colorizer.model`, `colorizer.evaluation`
(its metrics) and `colorizer.serving` below it, and the top level. Nothing
in the library imports it.
"""
