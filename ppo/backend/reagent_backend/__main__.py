"""Command line: python3 -m reagent_backend {serve,export-fixture,train-file}."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
