"""Hyperparameter sweeps: search spaces (`search_space`) and trials
(`sweep`), each trial a colorizer-train run.

May import: the top level (`config`, `flags_lib`). Nothing in the library
imports it.
"""
