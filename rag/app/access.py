"""Who may reach the served app: the password (needed beyond loopback), how fast it may be guessed,
and the Host names it answers.

``HostGuard`` and ``LoginLimiter`` are plain ASGI middleware, so a page that rebinds its own
name to 127.0.0.1, or a client guessing passwords, is refused before Gradio sees the request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

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


# --- how fast a password may be guessed ---------------------------------------------------------

# Wrong passwords from one client address answered at once: enough for typos. After that, each
# wrong password makes the address wait before its next try, twice as long each time, up to
# LOGIN_MAX_WAIT_SECONDS: 200 guesses, 0.4 s without a limit (issue 20), then take about two days.
LOGIN_FREE_FAILURES = 5
LOGIN_MAX_WAIT_SECONDS = 900.0
# A try that comes at most this long before its wait is over is held, not refused.
LOGIN_HOLD_SECONDS = 10.0
# An address is forgotten this long after its last wrong password; at most this many are kept
# (the least recently seen go first), so a flood from many addresses cannot exhaust memory.
LOGIN_FORGET_SECONDS = 24 * 3600.0
LOGIN_MAX_ADDRESSES = 10_000
_LOGIN_PATHS = ("/login", "/login/")  # Gradio's password check (gradio/routes.py); no other route takes one


@dataclass(slots=True)
class _Attempts:
    failures: int = 0  # wrong passwords in a row
    blocked_until: float = 0.0  # time.monotonic() before which the next try is refused
    trying: bool = False  # a login from this address is being checked now
    last: float = 0.0
    told: bool = False  # its refusal in this wait has been logged


def client_key(scope: Any) -> str:
    """Whom a request's login attempts count against: its client address; an IPv6 address by its /64
    network, since one host is usually given a whole /64 and could otherwise change address per try.

    The client address is the connecting peer's, or what a trusted proxy put in X-Forwarded-For:
    uvicorn takes it from there when the peer is in $FORWARDED_ALLOW_IPS (default: 127.0.0.1,::1).
    """
    client = scope.get("client") or ("", 0)
    try:
        address = ipaddress.ip_address(str(client[0]))
    except ValueError:
        return str(client[0]) or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class LoginLimiter:
    """ASGI middleware: limit wrong passwords per client address, by delays and a 429 with Retry-After.

    Each address gets ``LOGIN_FREE_FAILURES`` wrong passwords; then every further one makes it
    wait twice as long before its next try (1 s, 2 s, 4 s ... up to ``LOGIN_MAX_WAIT_SECONDS``).
    A try made while waiting is held until the wait is over when that is at most
    ``LOGIN_HOLD_SECONDS`` away (so a person who mistypes sees Gradio's "incorrect
    credentials" a little later, its login page showing nothing for a 429), and otherwise
    refused with 429 and Retry-After without being checked. One try at a time per address:
    a try sent while another is held or checked gets 429 at once, so a burst counts as one.
    The right password clears the address. Only the guessing address waits: the right user
    from another address logs in at once, whatever the flood. Refusals are logged (once per wait).
    """

    def __init__(self, app: Any, clock: Any = time.monotonic, sleep: Any = asyncio.sleep) -> None:
        self.app = app
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, _Attempts] = OrderedDict()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not self._is_login(scope):
            await self.app(scope, receive, send)
            return
        key = client_key(scope)
        hold, refuse = self._begin(key)
        if refuse:
            await _refuse(send, refuse)
            return
        status = 500

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if hold:
                await self._sleep(hold)
            await self.app(scope, receive, sending)
        finally:
            self._end(key, succeeded=status < 400)

    @staticmethod
    def _is_login(scope: Any) -> bool:
        if scope["type"] != "http" or scope.get("method") != "POST":
            return False
        path, root = scope.get("path", ""), scope.get("root_path", "")
        return path.removeprefix(root) in _LOGIN_PATHS if root else path in _LOGIN_PATHS

    def _begin(self, key: str) -> tuple[float, float]:
        """(seconds to hold this try before checking it, seconds after which to retry if refused now);
        a try not refused is marked as the address's one try under way."""
        now = self._clock()
        with self._lock:
            attempts = self._attempts(key, now)
            wait = max(attempts.blocked_until - now, 0.0)
            if not attempts.trying and wait <= LOGIN_HOLD_SECONDS:
                attempts.trying = True
                return wait, 0.0
            refuse = max(wait, 1.0)
            if not attempts.told:  # once per wait: a flood of refusals must not flood the log too
                attempts.told = True
                why = "another login from it is under way" if attempts.trying else "too many wrong passwords"
                logger.warning(
                    "refused logins from %s for %.0f s: %s (%d in a row)", key, refuse, why, attempts.failures
                )
        return 0.0, refuse

    def _end(self, key: str, *, succeeded: bool) -> None:
        now = self._clock()
        with self._lock:
            attempts = self._attempts(key, now)
            attempts.trying = False
            attempts.told = False
            if succeeded:
                del self._seen[key]
                return
            attempts.failures += 1
            attempts.last = now
            beyond = attempts.failures - LOGIN_FREE_FAILURES
            if beyond > 0:
                attempts.blocked_until = now + min(2.0 ** (beyond - 1), LOGIN_MAX_WAIT_SECONDS)
                logger.warning(
                    "wrong password from %s (%d in a row); its next login waits %.0f s",
                    key, attempts.failures, attempts.blocked_until - now,
                )  # fmt: skip

    def _attempts(self, key: str, now: float) -> _Attempts:
        """The record of ``key`` (new, or forgotten when old), most recently seen last. Holding the lock."""
        attempts = self._seen.get(key)
        if attempts is None or (not attempts.trying and now - attempts.last > LOGIN_FORGET_SECONDS):
            attempts = self._seen[key] = _Attempts(last=now)
            while len(self._seen) > LOGIN_MAX_ADDRESSES:
                oldest = next(iter(self._seen))
                if self._seen[oldest].trying:
                    self._seen.move_to_end(oldest)
                    break
                del self._seen[oldest]
        self._seen.move_to_end(key)
        return attempts


async def _refuse(send: Any, wait: float) -> None:
    seconds = max(1, math.ceil(wait))
    body = f"Too many wrong passwords from this address: try again in {seconds} s.\n".encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(seconds).encode()),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
