"""Tests of colorizer.model."""
