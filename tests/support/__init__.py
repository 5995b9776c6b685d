"""What the test suites share: database builders and copiers, the real CLI as a subprocess,
stand-in OpenCode servers and processes, and the TUI's pilot helpers.

Fixtures stay in the ``conftest.py`` files and call these; tests import helpers from here, never
from a ``conftest.py``.
"""
