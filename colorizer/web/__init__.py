"""The web page: a Flask app over a colorize function (`server`).

Backends (`backends`: an in-process SavedModel or TF Serving's REST API)
and the page itself.

May import: `colorizer.data`, `colorizer.serving` and the top level.
Nothing in the library imports it.
"""
