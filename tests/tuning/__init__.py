"""Tests of colorizer.tuning."""
