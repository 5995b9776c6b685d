"""Headless core of ocinspect: locate, read, diagnose and repair OpenCode databases.

Nothing in this package imports Textual, Rich or click (tests/test_import_hygiene.py enforces it),
so the CLI, the TUI, the benchmarks and scripts all drive the very same code.
"""
