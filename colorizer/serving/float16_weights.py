"""Exports with float16 weights: half the SavedModel, float32 arithmetic."""

import keras
import tensorflow as tf

WEIGHTS_DTYPES = ("float32", "float16")
# Smaller variables (biases, BatchNorm statistics) stay float32 in a float16
# export: they are a rounding error of the size.
_FLOAT16_MIN_SIZE = 4096


class Float16Weights:
  """A generator whose large weights are held in float16, computed in float32.

  Calling it casts the stored copies back to float32 and runs the model
  statelessly on them (keras.Model.stateless_call), so a SavedModel of a
  module holding `stored` (not the model) keeps each large weight in two
  bytes: half the file, for an output within float16's rounding of the
  float32 model's (tests/serving/test_export_float16.py measures it).
  """

  def __init__(self, generator: keras.Model):
    self._generator = generator

    def stored(variable):
      value = tf.convert_to_tensor(variable)
      if value.dtype == tf.float32 and value.shape.num_elements() >= (
          _FLOAT16_MIN_SIZE):
        value = tf.cast(value, tf.float16)
      return tf.Variable(value, trainable=False)

    self._num_trainable = len(generator.trainable_variables)
    self.stored = [stored(variable) for variable in
                   generator.trainable_variables
                   + generator.non_trainable_variables]

  def __call__(self, model_input, training=False):
    values = [tf.cast(variable, tf.float32) if variable.dtype == tf.float16
              else tf.convert_to_tensor(variable) for variable in self.stored]
    outputs, _ = self._generator.stateless_call(
        values[:self._num_trainable], values[self._num_trainable:],
        model_input, training=training)
    return outputs
