"""Tests for sketch mode (--input_mode=sketch): drawings, data, models, a
tiny training run, its export and colorize_lib on it.

One tiny sketch-mode run (3 steps on the demo scenes) is trained per module
and shared by the training, export and colorize tests.
"""

import io
import json
import os

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from colorizer import presets
from colorizer.data import demo_data
from colorizer.data import pipeline
from colorizer.data import sketch
from colorizer.evaluation import scored_models
from colorizer.model import networks
from colorizer.serving import colorize_lib
from colorizer.serving import export
from colorizer.training import train
from colorizer.training import validation

SKETCH_CONFIG = presets.tiny().replace(data={"input_mode": "sketch"},
                                       train={"train_steps": 3})
SIZE = 32  # The tiny config's image and render size.
# Served vs in-process L*a*b*: graph and eager float32 may flip the gamut
# clamp's last bisection step (2**-12 of a chroma up to about 110).
LAB_ATOL = 0.05


def _demo_rgb(index: int = 0, image_size: int = 64) -> tf.Tensor:
  """A demo scene as float32 [S, S, 3] in [0, 1]."""
  return tf.cast(demo_data.render_scene(index, image_size), tf.float32) / 255.


def _png(rgb_uint8: np.ndarray) -> bytes:
  buffer = io.BytesIO()
  Image.fromarray(rgb_uint8).save(buffer, format="PNG")
  return buffer.getvalue()


def _drawing_png(height: int, width: int) -> bytes:
  """A user's drawing: black strokes on white paper."""
  drawing = np.full((height, width, 3), 255, np.uint8)
  drawing[height // 3, 2:-2] = 0
  drawing[2:-2, width // 2] = 0
  drawing[height // 4:height // 2, width // 5:width // 5 + 2] = 0
  return _png(drawing)


def test_sketch_is_the_same_eagerly_and_inside_tf_data():
  rgb = tf.stack([_demo_rgb(index) for index in range(3)])  # [3, 64, 64, 3]
  eager = pipeline.sketch_from_rgb(rgb)
  in_pipeline = np.stack(list(tf.data.Dataset.from_tensor_slices(rgb).map(
      pipeline.sketch_from_rgb, num_parallel_calls=tf.data.AUTOTUNE)))
  assert eager.shape == (3, 64, 64, 1)
  np.testing.assert_allclose(in_pipeline, eager.numpy(), atol=1e-5)
  # Batched and one at a time agree too.
  np.testing.assert_allclose(pipeline.sketch_from_rgb(rgb[1]), eager[1],
                             atol=1e-5)


def test_sketch_is_mostly_paper_with_ink_on_the_edges():
  rgb = tf.stack([_demo_rgb(index) for index in range(4)])
  drawing = pipeline.sketch_from_rgb(rgb).numpy()[..., 0]  # [4, 64, 64]
  assert drawing.min() >= 0.0 and drawing.max() <= 1.0
  ink = drawing < 0.5
  assert 0.7 < 1.0 - ink.mean(), ink.mean()  # Mostly paper.
  assert ink.mean() > 0.01, ink.mean()  # But some lines.
  gray = tf.image.rgb_to_grayscale(rgb)
  edges = tf.norm(tf.image.sobel_edges(gray)[..., 0, :], axis=-1).numpy()
  # Ink sits where the image changes, far less where it is flat (the grass
  # texture gets some hatching).
  strong = edges > np.percentile(edges, 90)
  flat = edges < np.percentile(edges, 50)
  assert ink[strong].mean() > 2.5 * ink[flat].mean()


def test_flat_image_is_blank_paper_without_a_frame():
  drawing = pipeline.sketch_from_rgb(tf.fill([20, 30, 3], 0.4))
  np.testing.assert_allclose(drawing, np.ones([20, 30, 1]), atol=1e-6)


def test_preprocess_in_sketch_mode_gives_sketch_and_lab(tiny_config):
  rgb_uint8 = demo_data.render_scene(5, 48)
  for training in (False, True):
    seed = tf.constant([1, 2], tf.int64) if training else None
    sketch_input, lab = pipeline.preprocess(rgb_uint8, SKETCH_CONFIG.data,
                                        training, seed)
    assert sketch_input.shape == (SIZE, SIZE, 1) and lab.shape == (SIZE,
                                                                   SIZE, 3)
    assert -1.0 <= float(tf.reduce_min(sketch_input))
    assert float(tf.reduce_max(sketch_input)) <= 1.0
  l_channel, ab = pipeline.preprocess(rgb_uint8, tiny_config.data, False)
  np.testing.assert_allclose(lab, tf.concat([l_channel, ab], -1), atol=1e-6)


def test_models_in_sketch_mode_map_one_channel_to_three():
  generator = networks.build_generator(SKETCH_CONFIG, seed=0)
  discriminator = networks.build_discriminator(SKETCH_CONFIG, seed=1)
  lab = generator(tf.zeros([2, SIZE, SIZE, 1]), training=False)
  assert lab.shape == (2, SIZE, SIZE, 3)
  assert [tuple(i.shape) for i in discriminator.inputs] == [
      (None, None, None, 1), (None, None, None, 3)]
  logits = discriminator([tf.zeros([2, SIZE, SIZE, 1]), lab], training=False)
  assert logits.shape[0] == 2 and logits.shape[-1] == 1
  with pytest.raises(ValueError, match="input_mode=grayscale only"):
    networks.build_generator(SKETCH_CONFIG.replace(
        model={"generator": "mobilenet_unet", "encoder_weights": "none"}))


@pytest.fixture(scope="module")
def sketch_run(tmp_path_factory):
  model_dir = str(tmp_path_factory.mktemp("sketch_run"))
  metrics = train.train_and_evaluate(SKETCH_CONFIG, model_dir)
  version_dir = export.export_from_model_dir(
      model_dir, base_dir=str(tmp_path_factory.mktemp("savedmodels")),
      name="sketch")
  return model_dir, metrics, version_dir


def test_tiny_sketch_run_writes_a_sketch_prediction_truth_grid(sketch_run):
  model_dir, metrics, _ = sketch_run
  assert metrics["step"] == 3 and np.isfinite(metrics["l_l1"])
  grid = tf.io.decode_png(tf.io.read_file(
      os.path.join(model_dir, "samples", "latest.png"))).numpy()
  tile = SIZE * validation.grid_scale(SIZE)
  assert grid.shape == (4 * tile, 3 * tile, 3)  # Eval batch of 4: 4 rows.
  drawings = grid[:, :tile].astype(int)  # The input column: black and white.
  assert np.abs(drawings[..., 0] - drawings[..., 2]).max() <= 1
  assert (drawings > 127).mean() > 0.7  # Mostly paper.


def test_export_serves_sketches_and_records_the_mode(sketch_run):
  model_dir, _, version_dir = sketch_run
  metadata = export.read_metadata(version_dir)
  assert metadata["input_mode"] == "sketch"
  assert export.SKETCH_SIGNATURE in metadata["signatures"]
  loaded = tf.saved_model.load(version_dir)
  assert export.SKETCH_SIGNATURE in loaded.signatures
  assert export.LAB_SIGNATURE not in loaded.signatures

  served = loaded.signatures[export.SERVING_SIGNATURE](**{
      export.INPUT_BYTES: tf.constant([_drawing_png(45, 70)])})
  output = Image.open(io.BytesIO(served[export.OUTPUT_BYTES][0].numpy()))
  assert output.format == "PNG" and output.size == (70, 45)

  generator, _, _ = export.restore_generator(model_dir)
  drawing = pipeline.sketch_from_rgb(_demo_rgb(7, 48))[None]  # [1, 48, 48, 1]
  lab_served = loaded.signatures[export.SKETCH_SIGNATURE](**{
      export.INPUT_SKETCH: drawing})[export.OUTPUT_LAB]
  lab_local = sketch.predict_lab(
      lambda x: generator(x, training=False), drawing, SIZE)
  assert lab_served.shape == (1, 48, 48, 3)
  np.testing.assert_allclose(lab_served, lab_local, atol=LAB_ATOL)


def test_colorize_lib_runs_a_sketch_model(sketch_run, tmp_path):
  _, _, version_dir = sketch_run
  input_dir = tmp_path / "drawings"
  input_dir.mkdir()
  (input_dir / "cat.png").write_bytes(_drawing_png(40, 60))
  output_dir = str(tmp_path / "out")
  summary = colorize_lib.colorize_files(version_dir, str(input_dir),
                                        output_dir, progress=False)
  assert not summary.failed and len(summary.written) == 1
  assert Image.open(summary.written[0]).size == (60, 40)


def test_evaluate_refuses_sketch_models_clearly(sketch_run):
  model_dir, _, version_dir = sketch_run
  for loader, path in ((scored_models.load_saved_model, version_dir),
                       (scored_models.load_model_dir, model_dir)):
    with pytest.raises(ValueError, match="input_mode=sketch"):
      loader(path)
  with open(os.path.join(model_dir, "config.json")) as f:
    assert json.load(f)["data"]["input_mode"] == "sketch"
