"""Benchmarks of colorizer's speed and memory; each prints its figures.

The backend is chosen as the colorizer binaries choose it (oneDNN on x86,
before TensorFlow is imported), so a benchmark with no flags measures what
colorizer-train with no flags runs.
"""

from colorizer import hardware

hardware.enable_onednn()
