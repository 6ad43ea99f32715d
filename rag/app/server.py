"""The browser app: a Gradio shell over rag's public API (ask, look up, manage documents); here, the server.

The page's pieces are built elsewhere: ``rag.app.layout`` (the tabs and their events), ``rag.app.chat``,
``rag.app.handlers`` and ``rag.app.api`` (the handlers: Gradio in, rag's API, Gradio out),
``rag.app.render`` and ``rag.app.render_lookup`` (answers, citations, documents and lookups as escaped
HTML and Markdown), ``rag.app.documents`` (the current index, uploads and deletions), ``rag.app.access``
(password and Host names) and ``rag.app.assets`` (the page's CSS and scripts, from ``rag/app/static/``).
Here: the module-level ``demo`` and starting the server. ``python ui.py`` runs ``main``; ``rag serve``
runs ``serve``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from pathlib import Path

import gradio as gr

from rag import Index, RagError, load_index
from rag.app import documents as app_documents
from rag.app.access import (
    LOOPBACK_NAMES,
    HostGuard,
    LoginLimiter,
    UsageError,
    allowed_hosts,
    auth_value,
    parse_auth,
)
from rag.app.assets import CSS
from rag.app.documents import MAX_UPLOAD_BYTES
from rag.app.layout import THEME, build_demo
from rag.workspace import (
    TERMINATED_STATUS,
    Terminated,
    add_serve_arguments,
    default_index,
    open_or_build,
    sigterm_as_interrupt,
)

logger = logging.getLogger(__name__)


demo = build_demo()


# --- starting the server ---------------------------------------------------------------


def private_paths(index: Index, staging: Path) -> list[str]:
    """Folders Gradio must never serve: the corpus, the index, the staging folder, and the working
    directory unless Gradio's own file cache lies inside it."""
    paths = [index.corpus, index.path, staging]
    cache, here = Path(gr.utils.get_upload_folder()).resolve(), Path.cwd().resolve()
    if not cache.is_relative_to(here):
        paths.append(here)
    return [str(Path(p).resolve()) for p in paths]


def _warm_up(index: Index) -> None:
    """Load the embedding model in the background so the first question does not wait for it."""
    try:
        index.embedder.encode(["warm up"])
    except Exception:  # the first question will report it properly
        logger.exception("the embedding model could not be loaded in advance")


def launch(
    index: Index,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
    block: bool = True,
    hosts: frozenset[str] | None = LOOPBACK_NAMES,
) -> None:
    """Serve ``demo`` over ``index``: no share link, no served folders, uploads capped, and only
    the Host names in ``hosts`` answered (None: any)."""
    from starlette.middleware import Middleware

    app_documents.STATE.set(index)
    demo.queue(default_concurrency_limit=2)
    middleware = [Middleware(HostGuard, allowed=hosts)] if hosts is not None else []
    if auth is not None:  # wrong passwords slow down per client address (rag.app.access.LoginLimiter)
        middleware.append(Middleware(LoginLimiter))
    demo.launch(
        app_kwargs={"middleware": middleware},
        server_name=host,
        server_port=port,
        share=False,
        auth=auth,
        max_file_size=MAX_UPLOAD_BYTES,
        allowed_paths=[],
        blocked_paths=private_paths(index, app_documents.STATE.folder("staging")),
        show_error=False,  # unexpected errors stay in the terminal; user errors (gr.Error) still show
        css=CSS,
        theme=THEME,
        footer_links=["api"],
        run_history=False,
        prevent_thread_lock=True,
    )
    threading.Thread(target=_warm_up, args=(index,), daemon=True).start()
    if block:
        try:
            while demo.is_running:
                time.sleep(0.1)
        finally:  # Ctrl-C, SIGTERM (rag.workspace.Terminated)
            stop()


def stop() -> None:
    """Stop serving: refuse new changes to the documents, let the one under way finish, then close."""
    app_documents.STATE.stop()
    demo.close(verbose=False)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ui.py", description="The rag browser app: ask, look up, manage documents.")
    add_serve_arguments(parser)
    parser.add_argument("--index", default=default_index(), help="index directory (default: $RAG_INDEX or .rag-index)")
    return parser


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def serve(args: argparse.Namespace) -> int:
    """Start the app with the options of ``rag.workspace.add_serve_arguments`` and ``--index``;
    returns the exit code (0 after Ctrl-C, 143 after SIGTERM, 1 on a user error)."""
    with sigterm_as_interrupt():
        try:
            return _serve(args)
        except Terminated:
            print("rag serve: stopped (SIGTERM); no change to the documents was cut off", file=sys.stderr)
            return TERMINATED_STATUS


def _serve(args: argparse.Namespace) -> int:
    try:
        auth = parse_auth(auth_value(args.auth, args.auth_file), args.host)
        hosts = allowed_hosts(args.host, args.allowed_hosts)
        if getattr(args, "ray", None) or getattr(args, "shards", None):  # rag serve --ray ADDRESS --shards N
            index = load_index(args.index, ray=args.ray, shards=args.shards)
        else:
            index = open_or_build(args.index, args.corpus, say=_say)
    except (UsageError, RagError) as error:
        print(f"rag serve: error: {error}", file=sys.stderr)
        return 1
    try:
        launch(index, host=args.host, port=args.port, auth=auth, hosts=hosts)
    except Terminated:
        raise
    except KeyboardInterrupt:
        return 0
    except OSError as error:
        print(f"rag serve: error: cannot listen on {args.host}:{args.port} ({error})", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python ui.py [options]``: start the app; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
