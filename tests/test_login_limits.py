"""Password guessing is slowed per client address (issue 20, item 2): before, 200 wrong passwords took
0.4 s with no slowdown, no 429 and no lockout."""

from __future__ import annotations

import asyncio
import http.client
import logging
import time
import urllib.parse

import pytest

from rag.app import access as app_access
from rag.app.access import LOGIN_FREE_FAILURES, LoginLimiter, client_key
from tests.test_ui_access import served_port  # noqa: F401 - the running app, its password ann:s3cret


class Clock:
    """time.monotonic for the limiter, and its asyncio.sleep: holding a try moves the clock on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def password_check(scope, receive, send) -> None:
    """Gradio's /login as far as the limiter sees it: 200 for the right password, 400 otherwise."""
    status = 200 if scope.get("password") == "right" else 400
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def login(limiter: LoginLimiter, client: str, password: str = "wrong", path: str = "/login") -> tuple[int, dict]:
    scope = {"type": "http", "method": "POST", "path": path, "client": (client, 50000), "password": password}
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(limiter(scope, receive, send))
    return sent[0]["status"], {k.decode(): v.decode() for k, v in sent[0]["headers"]}


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def limiter(clock: Clock) -> LoginLimiter:
    return LoginLimiter(password_check, clock=clock, sleep=clock.sleep)


# Sequential wrong passwords: 5 answered at once, then holds of 1, 2, 4 and 8 s (each under
# LOGIN_HOLD_SECONDS), then a wait of 16 s, which is refused.
CHECKED_IN_A_ROW = LOGIN_FREE_FAILURES + 5


def test_after_a_few_wrong_passwords_each_one_doubles_the_wait(limiter: LoginLimiter, clock: Clock) -> None:
    for _ in range(CHECKED_IN_A_ROW):
        assert login(limiter, "203.0.113.9")[0] == 400
    assert clock.slept == [1, 2, 4, 8]  # typos are answered at once, then a little later each time
    status, headers = login(limiter, "203.0.113.9")
    assert (status, headers["retry-after"]) == (429, "16")
    clock.now += 15.5
    assert login(limiter, "203.0.113.9")[0] == 400, "held the last half second, then checked"
    assert clock.slept[-1] == 0.5
    status, headers = login(limiter, "203.0.113.9")
    assert (status, headers["retry-after"]) == (429, "32")


def test_a_refused_try_is_not_checked_even_with_the_right_password(limiter: LoginLimiter) -> None:
    for _ in range(CHECKED_IN_A_ROW):
        login(limiter, "203.0.113.9")
    assert login(limiter, "203.0.113.9", "right")[0] == 429


def test_a_flood_from_one_address_does_not_lock_out_the_right_user_elsewhere(limiter: LoginLimiter) -> None:
    statuses = [login(limiter, "203.0.113.9")[0] for _ in range(200)]
    assert statuses.count(400) == CHECKED_IN_A_ROW and statuses.count(429) == 200 - CHECKED_IN_A_ROW
    assert login(limiter, "198.51.100.7", "right")[0] == 200


def test_the_right_password_clears_the_address(limiter: LoginLimiter, clock: Clock) -> None:
    for _ in range(LOGIN_FREE_FAILURES):
        login(limiter, "203.0.113.9")
    assert login(limiter, "203.0.113.9", "right")[0] == 200
    for _ in range(LOGIN_FREE_FAILURES):
        assert login(limiter, "203.0.113.9")[0] == 400


def test_the_wait_is_capped(limiter: LoginLimiter, clock: Clock) -> None:
    waits = []
    for _ in range(40):
        status, headers = login(limiter, "203.0.113.9")
        if status == 429:
            waits.append(int(headers["retry-after"]))
            clock.now += waits[-1]
    assert max(waits) == app_access.LOGIN_MAX_WAIT_SECONDS


def test_one_try_at_a_time_per_address(clock: Clock) -> None:
    """A burst sent at once is not checked in parallel: the tries beyond the first are refused."""

    async def slow_check(scope, receive, send) -> None:
        await asyncio.sleep(0.05)
        await password_check(scope, receive, send)

    limiter = LoginLimiter(slow_check, clock=clock, sleep=clock.sleep)

    async def burst() -> list[int]:
        statuses: list[int] = []

        async def one() -> None:
            sent: list[dict] = []
            scope = {"type": "http", "method": "POST", "path": "/login", "client": ("203.0.113.9", 1)}

            async def send(message: dict) -> None:
                sent.append(message)

            await limiter(scope, lambda: None, send)
            statuses.append(sent[0]["status"])

        await asyncio.gather(*(one() for _ in range(20)))
        return statuses

    statuses = asyncio.run(burst())
    assert statuses.count(400) == 1 and statuses.count(429) == 19


def test_an_ipv6_host_counts_as_its_whole_64_network() -> None:
    assert client_key({"client": ("2001:db8:1:2::1", 1)}) == client_key({"client": ("2001:db8:1:2:ffff::9", 1)})
    assert client_key({"client": ("2001:db8:1:2::1", 1)}) != client_key({"client": ("2001:db8:1:3::1", 1)})
    assert client_key({"client": ("::ffff:203.0.113.9", 1)}) == "203.0.113.9"


def test_refusals_are_logged_once_per_wait(limiter: LoginLimiter, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="rag.app.access")
    for _ in range(CHECKED_IN_A_ROW + 50):
        login(limiter, "203.0.113.9")
    refused = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused logins from 203.0.113.9")]
    assert len(refused) == 1 and "too many wrong passwords" in refused[0]
    assert any(r.getMessage().startswith("wrong password from 203.0.113.9") for r in caplog.records)


def test_other_requests_pass_untouched(limiter: LoginLimiter) -> None:
    for _ in range(50):
        assert login(limiter, "203.0.113.9", path="/gradio_api/info")[0] == 400  # not a login: not counted
    assert login(limiter, "203.0.113.9", "right")[0] == 200


def test_addresses_kept_are_bounded(limiter: LoginLimiter, monkeypatch) -> None:
    monkeypatch.setattr(app_access, "LOGIN_MAX_ADDRESSES", 100)
    for number in range(1000):
        login(limiter, f"10.0.{number // 250}.{number % 250}")
    assert len(limiter._seen) <= 100


# --- the running app ------------------------------------------------------------------------


def post_login(port: int, password: str, source: str = "127.0.0.1") -> tuple[int, str | None]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    body = urllib.parse.urlencode({"username": "ann", "password": password})
    headers = {"Host": f"127.0.0.1:{port}", "Content-Type": "application/x-www-form-urlencoded"}
    try:
        connection.request("POST", "/login", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Retry-After")
    finally:
        connection.close()


@pytest.mark.slow
def test_guessing_the_apps_password_is_slowed_and_the_right_user_still_gets_in(served_port: int) -> None:  # noqa: F811
    started = time.monotonic()
    results = [post_login(served_port, f"guess{n}") for n in range(200)]
    took = time.monotonic() - started
    statuses = [status for status, _ in results]
    assert statuses.count(400) == CHECKED_IN_A_ROW, statuses
    assert statuses.count(429) == 200 - CHECKED_IN_A_ROW
    assert took >= 1 + 2 + 4 + 8, "the tries after the fifth were held"
    assert all(int(wait) >= 1 for status, wait in results if status == 429)
    assert post_login(served_port, "s3cret", source="127.0.0.2")[0] == 200  # another address is not locked out
    assert post_login(served_port, "s3cret")[0] == 429  # the guessing one waits, whatever it sends
