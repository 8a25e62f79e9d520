"""Scoring colorizations: metrics, statistics, Frechet distances, reports.

Per-image metrics and their accumulation (`metrics`), intervals and the
Frechet distances (`stats`; `frechet`: FD-MobileNetV2 and the shared
machinery; `fid`: Inception-v3), the evaluation images (`eval_images`), the
colorizer-evaluate library (`evaluate_lib`) and its report
(`evaluate_report`).

May import: `colorizer.data`, `colorizer.model`, `colorizer.serving` and
the top level. Imported by `colorizer.training` (its metrics).
"""
