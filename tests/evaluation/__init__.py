"""Tests of colorizer.evaluation."""
