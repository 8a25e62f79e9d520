"""Tests of colorizer.web."""
