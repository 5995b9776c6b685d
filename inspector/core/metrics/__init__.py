"""``watch --metrics``: what a watch sees and does, as Prometheus metrics.

``tally`` counts a look's diagnoses (pure), ``idle`` keeps the diagnoses of the sessions no server
works on (read when they change, not at every look), ``collector`` turns looks into metrics in a
registry of its own, ``server`` serves them over HTTP. Only ``collector`` and ``server`` import
``prometheus_client``, and only ``watch --metrics`` imports them.
"""
