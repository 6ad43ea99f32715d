"""``python -m rag``: the `rag` command."""

from rag.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
