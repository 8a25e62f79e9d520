"""Tests of colorizer.training."""
