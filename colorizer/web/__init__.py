"""The web page: a Flask app over a colorize function (`server`).

Backends (`backends`: an in-process SavedModel or TF Serving's REST API),
the bounded queue of requests (`admission`), and the page itself: a Jinja2
template (`templates/index.html`) and its script, style sheet and icon
(`static/`), shipped as package data.

May import: `colorizer.data`, `colorizer.serving` and the top level.
Nothing in the library imports it.
"""
