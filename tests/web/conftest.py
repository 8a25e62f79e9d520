"""Markers for tests/web: `slow` marks the tests that build or install.

Deselect them with `pytest -m "not slow"`.
"""


def pytest_configure(config):
  config.addinivalue_line(
      "markers", "slow: builds and installs a wheel or runs a load; tens of "
      "seconds (deselect with -m 'not slow').")
