"""The playground: bprop in the browser, on the real network, trainer and trace.

``bprop playground`` starts a small local web server (``server.py``, the standard
library's ``http.server`` with Server-Sent Events) and opens a page of three views:
Train (watch a network learn, live), Draw (draw a digit, see every layer) and Step (one
backpropagation step, stage by stage, every number from ``bprop.trace``). The page is
plain HTML, CSS and JavaScript in ``static/``, with no build step and nothing fetched
from the network; it draws numbers and computes none.
"""
