"""Scripts that make the figures and tables in docs/; not installed."""
