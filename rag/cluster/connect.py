"""The one place that imports Ray and joins a cluster."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from typing import Any

from rag.errors import RagError

logger = logging.getLogger(__name__)

REACH_SECONDS = 5
INSTALL_HINT = 'Ray is not installed; install the extra with: pip install -e ".[ray]"'


def ray_module() -> Any:
    """The ``ray`` module, or a RagError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise RagError(INSTALL_HINT) from None
    return ray


def connect(address: str | bool | None) -> Any:
    """Join the Ray cluster at ``address`` (or start a local one for True, "local" or ""); returns ``ray``.

    When this process is already connected (``ray.init`` was called), that connection is used
    as it is, so a caller can set up Ray its own way (runtime environment, namespace) first.
    """
    ray = ray_module()
    if ray.is_initialized():
        return ray
    target = None if address in (True, None, "", "local") else str(address)
    if target is not None:
        _check_reachable(target)
    # ray.init makes SIGTERM exit at once (sys.exit(15)); the caller's own handler (the CLI's, which
    # cleans up, says so and exits 143) is put back.
    handler = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    try:
        ray.init(address=target, logging_level=logging.WARNING, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as error:
        where = f"at {target}" if target else "on this machine"
        raise RagError(f"cannot join the Ray cluster {where}: {error}") from None
    finally:
        if handler is not None:
            signal.signal(signal.SIGTERM, handler)
    return ray


def _check_reachable(address: str) -> None:
    """Refuse at once a HOST:PORT no one answers on: Ray itself retries for minutes, printing warnings."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():  # "auto" and other forms Ray resolves itself
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_SECONDS).close()
    except OSError as error:
        raise RagError(f"cannot reach the Ray cluster at {address}: {error.strerror or error}") from None
