"""The Textual front end: a thin layer over ``inspector.core`` (scan, plan, apply, undo).

Import ``inspector.tui.app.make_app`` lazily (the CLI does) so plain CLI runs never load Textual.
"""
