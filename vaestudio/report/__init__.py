"""`vaestudio report`: one run as a self-contained, offline HTML page with a live latent plane.

content.py reads what the page shows from a run folder; charts.py draws its SVG curves; decoder.py turns the
chosen snapshot's decoder into data that report.js builds TensorFlow.js layers from; tfjs.py finds (and
fetches) the pinned TensorFlow.js; page.py lays it all out, escaped; command.py is the CLI command.
"""
