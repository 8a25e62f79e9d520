"""Images in, batches out: everything between a source and the model.

Sources (`image_sources`: folders, TFRecords, TFDS, npz, the demo scenes),
safe decoding (`image_io`, `image_header`), the built-in scenes
(`demo_data`), XDoG line drawings (`sketch`), TFRecord shards
(`tfrecords`), class labels (`class_labels`), and the tf.data pipeline
that crops, flips and converts to L*a*b* (`pipeline`).

May import: the top-level `config`, `color`, `progress`, `hardware`.
Imported by everything above it; imports nothing above itself.
"""
