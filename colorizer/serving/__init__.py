"""A trained model, used: SavedModel export, colorize, video.

The SavedModel in TF Serving's layout and its serving graph (`export`),
the colorize CLI's library (`colorize_lib`), and video colorization
(`video`, `video_io`).

May import: `colorizer.data`, `colorizer.model` and the top level.
Imported by `colorizer.evaluation`, `colorizer.training` and
`colorizer.web`.
"""
