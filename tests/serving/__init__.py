"""Tests of colorizer.serving."""
