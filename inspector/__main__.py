"""``python -m inspector`` is the same as the ``ocinspect`` command."""

from inspector.cli import main

if __name__ == "__main__":
    main()
