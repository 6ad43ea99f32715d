"""Start the rag browser app: ``python ui.py`` (``--help`` lists the options; ``rag serve`` does the same).

The app itself is ``rag.app.server``; ``demo`` is here for Gradio's conventions (``gradio ui.py`` reloads it).
"""

import sys

from rag.app.server import demo, main

__all__ = ["demo", "main"]

if __name__ == "__main__":
    sys.exit(main())
