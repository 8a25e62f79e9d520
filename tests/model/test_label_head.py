"""The auxiliary class-label loss (--label_weight): data, step, run, export."""

import numpy as np
import pytest
import tensorflow as tf

from colorizer.data import image_sources
from colorizer.data import pipeline
from colorizer import flags_lib
from colorizer import presets
from colorizer.model import encoder_unet
from colorizer.model import label_head
from colorizer.serving import export
from colorizer.training import steps
from colorizer.training import train
from tests import conftest

NUM_LABELS = 3


def _labelled_npz(tmp_path, count=24):
  """Images whose brightness encodes their label: 40, 120 or 200 (+ noise)."""
  rng = np.random.RandomState(0)
  labels = np.arange(count) % NUM_LABELS
  base = np.array([40, 120, 200])[labels]
  images = np.clip(base[:, None, None, None] + rng.randint(
      -20, 20, (count, 32, 32, 3)), 0, 255).astype(np.uint8)
  images[..., 0] = np.clip(images[..., 0].astype(int) + 30, 0, 255)  # Reddish.
  path = tmp_path / "labelled.npz"
  np.savez(path, images=images, labels=labels)
  return f"npz:{path}", images, labels


def _config(dataset, **loss):
  return presets.tiny().replace(
      data={"dataset": dataset, "val_fraction": 0.25, "flip": True,
            "train_crop": "random_resized"},
      loss=dict({"label_weight": 1.0}, **loss))


def test_training_batches_carry_each_image_s_own_label(tmp_path):
  dataset, _, _ = _labelled_npz(tmp_path)
  config = _config(dataset)
  train_ds, val_ds, sources = pipeline.make_datasets(config.data, 6, seed=0,
                                                 with_labels=True)
  assert sources.num_labels == NUM_LABELS
  _assert_brightness_names_the_label(train_ds)
  assert len(next(iter(val_ds))) == 2  # Validation has no labels.


def _labelled_folder(tmp_path, count=24):
  """The same images as _labelled_npz, as PNGs in one subfolder per class
  (the third class one level deeper), plus an unreadable file."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  _, images, labels = _labelled_npz(tmp_path, count)
  folder = tmp_path / "classes"
  class_dirs = [folder / "a_dark", folder / "b_mid", folder / "c_bright" / "x"]
  for class_dir in class_dirs:
    class_dir.mkdir(parents=True)
  for index, (image, label) in enumerate(zip(images, labels)):
    Image.fromarray(image).save(class_dirs[label] / f"{index:03d}.png")
  (class_dirs[1] / "broken.png").write_bytes(b"not a png")
  return folder


def _assert_brightness_names_the_label(train_ds, batches=4):
  for l_channel, _, labels in train_ds.take(batches):
    # After crop, flip and Lab, the brightness still names the label.
    brightness = l_channel.numpy().mean(axis=(1, 2, 3))
    expected = np.digitize(brightness, [-0.45, 0.15])
    np.testing.assert_array_equal(labels.numpy(), expected)


def test_class_subfolders_label_a_folder_of_images(tmp_path):
  folder = _labelled_folder(tmp_path)
  config = _config(f"folder:{folder}")
  flags_lib.validate(config)
  train_ds, val_ds, sources = pipeline.make_datasets(config.data, 6, seed=0,
                                                 with_labels=True)
  assert sources.num_labels == NUM_LABELS
  _assert_brightness_names_the_label(train_ds)
  assert len(next(iter(val_ds))) == 2
  # The unreadable file was skipped, counted, and took no label with it.
  assert sources.skipped.count == 1


def test_a_folder_without_class_subfolders_is_refused(tmp_path):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  folder = _labelled_folder(tmp_path)
  image = Image.new("RGB", (8, 8), (200, 40, 40))
  image.save(folder / "loose.png")
  with pytest.raises(ValueError, match=r"--label_weight: .* 1 image\(s\) "
                     r"outside class subfolders \(e\.g\. loose\.png\); "
                     "put each class"):
    flags_lib.validate(_config(f"folder:{folder}"))
  one_class = tmp_path / "one" / "only"
  one_class.mkdir(parents=True)
  for index in range(2):
    image.save(one_class / f"{index}.png")
  for check in (
      lambda: flags_lib.validate(_config(f"folder:{tmp_path}/one")),
      lambda: image_sources.make_sources(
          _config(f"folder:{tmp_path}/one").data, 0, with_labels=True)):
    with pytest.raises(ValueError, match="one subfolder per class and has 1; "
                       "pass --label_weight=0"):
      check()
  # Without --label_weight the same folders train as plain image folders.
  flags_lib.validate(_config(f"folder:{folder}", label_weight=0.0))


def test_tfds_class_labels_reach_the_training_batches():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  config = _config("tfds:cifar10")
  flags_lib.validate(config)
  with tfds.testing.mock_data(num_examples=16,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    train_ds, val_ds, sources = pipeline.make_datasets(config.data, 4, seed=0,
                                                   with_labels=True)
    _, _, labels = next(iter(train_ds))
    assert len(next(iter(val_ds))) == 2
  assert sources.num_labels == 10  # CIFAR-10's ClassLabel.
  assert labels.dtype == tf.int32 and labels.shape == (4,)
  assert ((0 <= labels.numpy()) & (labels.numpy() < 10)).all()
  unlabelled = _config("tfds:div2k")  # Image pairs, no class label.
  with tfds.testing.mock_data(num_examples=4,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    with pytest.raises(ValueError, match="--label_weight: --dataset=tfds:div2k "
                       "has no class label feature; pass --label_weight=0"):
      pipeline.make_datasets(unlabelled.data, 2, seed=0, with_labels=True)


def test_sources_without_labels_are_refused_naming_the_flag(tmp_path):
  np.savez(tmp_path / "nolabels.npz",
           images=np.zeros([4, 32, 32, 3], np.uint8))
  unlabelled = _config(f"npz:{tmp_path}/nolabels.npz")
  for check in (lambda: flags_lib.validate(unlabelled),
                lambda: image_sources.make_sources(unlabelled.data, 0,
                                                   with_labels=True)):
    with pytest.raises(ValueError, match="--label_weight: .* no 'labels' "
                       "array; pass --label_weight=0"):
      check()
  np.savez(tmp_path / "float.npz", images=np.zeros([4, 32, 32, 3], np.uint8),
           labels=np.zeros(4, np.float32))
  with pytest.raises(ValueError, match="non-negative integers"):
    image_sources.make_sources(_config(f"npz:{tmp_path}/float.npz").data, 0,
                               with_labels=True)
  with pytest.raises(ValueError, match="--label_weight needs class labels"):
    flags_lib.validate(_config("demo"))
  with pytest.raises(ValueError, match="--label_weight=-1"):
    flags_lib.validate(_config("demo", label_weight=-1.0))


def test_cross_entropy_and_accuracy_match_hand_computed_values():
  logits = tf.constant([[2.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
  labels = tf.constant([0, 1])
  log_normalizer = np.log(np.exp(2.0) + 2.0)
  expected = [log_normalizer - 2.0, np.log(2.0 + np.exp(5.0))]
  np.testing.assert_allclose(
      label_head.cross_entropy_per_example(logits, labels), expected,
      rtol=1e-6)
  np.testing.assert_array_equal(
      label_head.correct_per_example(logits, labels), [1.0, 0.0])


def test_the_label_loss_trains_the_encoder_and_not_the_decoder(tmp_path):
  dataset, _, _ = _labelled_npz(tmp_path)
  # Only the label loss: the decoder gets no gradient at all.
  config = _config(dataset, recon_weight=0.0).replace(
      optim={"gen_learning_rate": 2e-3})
  state = steps.build_state(config, tf.distribute.get_strategy(),
                            num_labels=NUM_LABELS)
  train_ds, _, _ = pipeline.make_datasets(config.data, 8, seed=0,
                                      with_labels=True)
  batch = next(iter(train_ds))
  before = {v.path: v.numpy().copy()
            for v in state.generator.trainable_variables}
  step_fn = tf.function(steps.make_train_step(state, config, 8,
                                              adversarial=False))
  first = step_fn(*batch)
  for _ in range(30):
    last = step_fn(*batch)
  assert float(last["label_xent"]) < 0.5 * float(first["label_xent"])
  assert float(last["label_accuracy"]) == 1.0
  variables = {v.path: v for v in state.generator.trainable_variables}
  changed = {path for path, value in before.items()
             if not np.array_equal(value, variables[path].numpy())}
  assert any(path.startswith("down0") for path in changed)
  assert not any(path.startswith(("up", "ab_")) for path in changed), changed
  # A batch without labels does not fit a step that needs them.
  with pytest.raises(ValueError, match="labelled batches"):
    step_fn(*batch[:2])


def test_on_an_encoder_the_head_learns_alone_while_it_is_frozen(tmp_path):
  dataset, _, _ = _labelled_npz(tmp_path)
  config = _config(dataset, recon_weight=0.0).replace(
      model={"generator": "mobilenet_unet", "encoder_weights": "none"},
      optim={"gen_learning_rate": 2e-3, "encoder_learning_rate": 2e-3})
  flags_lib.validate(config)
  state = steps.build_state(config, tf.distribute.get_strategy(),
                            num_labels=NUM_LABELS)
  # MobileNetV2's stride-32 map: 1280 channels.
  assert state.label_head.input_shape[-1] == 1280
  train_ds, _, _ = pipeline.make_datasets(config.data, 8, seed=0,
                                          with_labels=True)
  batch = next(iter(train_ds))

  def changed_by(step_fn, count):
    # Every weight, the frozen encoder's included (its Keras trainable flag
    # is off while frozen).
    weights = [v for v in state.generator.weights + state.label_head.weights
               if v.trainable or "encoder" in v.path and
               not v.path.endswith(("moving_mean", "moving_variance"))]
    before = [v.numpy().copy() for v in weights]
    for _ in range(count):
      scalars = step_fn(*batch)
    after = weights
    return scalars, {v.path for v, value in zip(after, before)
                     if not np.array_equal(v.numpy(), value)}

  frozen = tf.function(steps.make_train_step(
      state, config, 8, adversarial=False, freeze_encoder=True))
  first = frozen(*batch)
  last, changed = changed_by(frozen, 20)
  assert float(last["label_xent"]) < float(first["label_xent"])
  assert changed and all(path.startswith("label_") for path in changed), (
      changed)
  thawed = tf.function(steps.make_train_step(state, config, 8,
                                             adversarial=False))
  _, changed = changed_by(thawed, 2)
  encoder_paths = {v.path for v in state.generator.get_layer(
      encoder_unet.ENCODER_NAME).trainable_variables}
  assert changed & encoder_paths
  assert not any(path.startswith(("up", "ab_", "class_")) for path in changed)


def test_the_label_head_is_checkpointed(tmp_path):
  config = _config("demo")
  state = steps.build_state(config, tf.distribute.get_strategy(),
                            num_labels=NUM_LABELS)
  for variable in state.label_head.trainable_variables:
    variable.assign(tf.random.normal(variable.shape, seed=3))
  path = state.checkpoint().save(str(tmp_path / "ckpt"))
  restored = steps.build_state(config, tf.distribute.get_strategy(),
                               num_labels=NUM_LABELS)
  restored.checkpoint().restore(path).assert_existing_objects_matched()
  for saved, loaded in zip(state.label_head.trainable_variables,
                           restored.label_head.trainable_variables):
    np.testing.assert_array_equal(saved.numpy(), loaded.numpy())


def test_a_run_with_labels_resumes_and_exports_the_bare_generator(tmp_path):
  dataset, images, _ = _labelled_npz(tmp_path)
  config = _config(dataset).replace(
      model={"ab_head": "classes"},
      train={"train_steps": 4, "pretrain_steps": 4, "save_every": 2,
             "log_every": 2, "eval_every": 4})
  flags_lib.validate(config)
  model_dir = str(tmp_path / "run")
  train.train_and_evaluate(config.replace(train={"train_steps": 2}),
                           model_dir)
  metrics = train.train_and_evaluate(config, model_dir)  # Resumes at 2.
  assert metrics["step"] == 4
  events = conftest.summary_events(f"{model_dir}/train")
  assert {"train/label_xent", "train/label_accuracy"} <= set(events)
  export_dir = export.export_from_model_dir(
      model_dir, name="labelled", version=1, base_dir=str(tmp_path / "out"))
  loaded = tf.saved_model.load(export_dir)
  colorized = loaded.signatures["serving_default"](
      image_bytes=tf.constant([tf.io.encode_png(images[0]).numpy()]))
  assert set(colorized) == {"colorized_bytes"}
