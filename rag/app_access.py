"""Who may reach the served app: the password (needed beyond loopback) and the Host names it answers.

``HostGuard`` is plain ASGI middleware, so a page that rebinds its own name to 127.0.0.1 is
refused before Gradio sees the request.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any

# --- the password ------------------------------------------------------------------------


class UsageError(Exception):
    """A command-line mistake; the message is printed as one line."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


AUTH_VARIABLE = "RAG_AUTH"


def parse_auth(value: str | None, host: str) -> tuple[str, str] | None:
    """The (user, password) pair from ``USER:PASSWORD``; required to listen beyond loopback."""
    if value is None:
        if not is_loopback(host):
            raise UsageError(
                f"refusing to listen on {host} without --auth USER:PASSWORD "
                f"(or --auth-file FILE, or ${AUTH_VARIABLE}; only loopback is open)"
            )
        return None
    user, colon, password = value.partition(":")
    if not (colon and user and password):
        raise UsageError("--auth must look like USER:PASSWORD")
    return user, password


def auth_value(given: str | None, auth_file: str | None) -> str | None:
    """USER:PASSWORD from --auth, else the first line of --auth-file, else $RAG_AUTH (None: no auth).

    A password on the command line shows in ``ps`` to every user of the machine; a file
    readable only by its owner, or the environment, does not.
    """
    if given is not None:
        return given
    if auth_file is not None:
        try:
            lines = Path(auth_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or error
            raise UsageError(f"cannot read --auth-file {auth_file} ({reason})") from None
        if not lines or ":" not in lines[0]:
            raise UsageError(f"--auth-file {auth_file} must hold USER:PASSWORD on its first line")
        return lines[0].strip()
    return os.environ.get(AUTH_VARIABLE) or None


# --- which Host names the app answers (DNS rebinding) ---------------------------------------

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def allowed_hosts(host: str, extra: str | None) -> frozenset[str] | None:
    """The Host names the app answers: loopback names (plus ``extra``, comma-separated) when it
    listens on loopback or when ``extra`` is given; None (any name) beyond loopback without it,
    where the password protects the app."""
    names = {_host_name(name) for name in (extra or "").split(",") if name.strip()}
    if not is_loopback(host) and not names:
        return None
    if "" in names:
        raise UsageError(f"--allowed-hosts must be comma-separated host names, got {extra!r}")
    return frozenset(LOOPBACK_NAMES | names)


def _host_name(value: str) -> str:
    """The name in a Host header or an Origin ("[::1]:7860" -> "::1"), lower-cased, without port."""
    value = value.strip().lower()
    if "://" in value:
        value = value.split("://", 1)[1].split("/", 1)[0]
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else ""
    name, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    if port and not port.isdigit():
        return ""
    return name.rstrip(".")


class HostGuard:
    """ASGI middleware: refuse a request whose Host (or Origin) names a host the app does not answer to.

    A web page can rebind its own name to 127.0.0.1 and then call the app as if it were its
    own site: the browser sends that foreign name as Host and Origin. Gradio's own check only
    looks at the Origin when the Host is a loopback name, so it lets such a request through.
    """

    def __init__(self, app: Any, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and not self._allows(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            body = b"This address is not one this rag app answers to (see --allowed-hosts).\n"
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def _allows(self, scope: Any) -> bool:
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        host = headers.get(b"host", b"").decode("latin-1")
        if _host_name(host) not in self.allowed:
            return False
        origin = headers.get(b"origin")
        return origin is None or _host_name(origin.decode("latin-1")) in self.allowed
