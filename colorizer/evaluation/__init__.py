"""Scoring colorizations: metrics, statistics, FID, reports, evaluate.

Per-image metrics and their accumulation (`metrics`), intervals and the
Frechet distance (`stats`, `fid`), the evaluation images (`eval_images`),
the colorizer-evaluate library (`evaluate_lib`) and its report
(`evaluate_report`).

May import: `colorizer.data`, `colorizer.model`, `colorizer.serving` and
the top level. Imported by `colorizer.training` (its metrics).
"""
