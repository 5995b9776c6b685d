"""Databases made from OpenCode's real DDL: the builder for tests and benchmarks, and the --demo database."""
