"""OpenCode 2.x (``session_v2``, ``session_message`` with tools inside ``content[]``, execution claims).

The second implementation of the read interface (``db/reads/``); see
``docs/design/opencode-2.md`` for the layout and the patterns.
"""
