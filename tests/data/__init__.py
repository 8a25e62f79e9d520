"""Tests of colorizer.data."""
