"""Serve synthetic fake registries in the foreground: python -m tests.fakeregistry --help."""

from tests.fakeregistry.cli import main

if __name__ == "__main__":
    main()
