"""Who the browser app answers: loopback Host names only (DNS rebinding), --allowed-hosts beyond them,
a password that never has to appear in ``ps``, and uploads that account for every file chosen."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import build_index
from rag.app import access as app_access
from rag.app import documents as app_documents
from rag.app import server as app
from tests.fakes import FakeEmbedder
from tests.test_ui import stop_app

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "seed-article.md"


# --- rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost:7860", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]:7860", "::1"),
        ("LOCALHOST.:80", "localhost"),
        ("http://evil.example:7860", "evil.example"),
        ("evil.example:x", ""),
        ("[::1", ""),
    ],
)
def test_host_names_are_read_from_host_and_origin_headers(header: str, name: str) -> None:
    assert app_access._host_name(header) == name


def test_allowed_hosts_follow_the_listening_address() -> None:
    assert app_access.allowed_hosts("127.0.0.1", None) == app_access.LOOPBACK_NAMES
    assert app_access.allowed_hosts("::1", "rag.example.org") == app_access.LOOPBACK_NAMES | {"rag.example.org"}
    assert app_access.allowed_hosts("0.0.0.0", None) is None, "beyond loopback the password guards the app"
    assert "rag.example.org" in app_access.allowed_hosts("0.0.0.0", "rag.example.org, other.example")


def test_the_password_comes_from_a_file_or_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(app_access.AUTH_VARIABLE, raising=False)
    assert app_access.auth_value(None, None) is None
    monkeypatch.setenv(app_access.AUTH_VARIABLE, "ann:from-env")
    assert app_access.auth_value(None, None) == "ann:from-env"
    secret = tmp_path / "auth"
    secret.write_text("bob:from:file\n", encoding="utf-8")
    assert app_access.auth_value(None, str(secret)) == "bob:from:file"
    assert app_access.auth_value("cy:given", str(secret)) == "cy:given"
    assert app_access.parse_auth(app_access.auth_value(None, str(secret)), "0.0.0.0") == ("bob", "from:file")
    secret.write_text("no colon here\n", encoding="utf-8")
    with pytest.raises(app_access.UsageError, match="USER:PASSWORD on its first line"):
        app_access.auth_value(None, str(secret))
    with pytest.raises(app_access.UsageError, match="cannot read --auth-file"):
        app_access.auth_value(None, str(tmp_path / "missing"))


@pytest.mark.usefixtures("packaged_model")
def test_main_reads_the_password_from_the_environment(monkeypatch, capsys, tmp_path: Path) -> None:
    argv = ["--host", "0.0.0.0", "--corpus", str(tmp_path / "no-corpus"), "--index", str(tmp_path / "no-index")]
    monkeypatch.delenv(app_access.AUTH_VARIABLE, raising=False)
    assert app.main(argv) == 1
    assert "without --auth" in capsys.readouterr().err
    monkeypatch.setenv(app_access.AUTH_VARIABLE, "ann:secret")
    assert app.main(argv) == 1
    error = capsys.readouterr().err
    assert "without --auth" not in error and "does not exist" in error, "the password was taken from $RAG_AUTH"


def test_every_file_chosen_beyond_the_limit_is_listed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / "seed-article.md")
    holder = app_documents.IndexHolder(build_index(corpus, tmp_path / "index", embedder=FakeEmbedder()))
    files = []
    for number in range(app_documents.MAX_UPLOAD_FILES + 10):
        path = tmp_path / "chosen" / f"note-{number:02d}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"Note number {number} says the harvest came early.\n", encoding="utf-8")
        files.append(path)
    summary = app_documents.add_uploads(holder, files, tmp_path / "staging")
    added = {d["doc_id"] for d in holder.index.documents()} - {"seed-article.md"}
    assert len(added) == app_documents.MAX_UPLOAD_FILES
    for path in files[app_documents.MAX_UPLOAD_FILES :]:
        assert (
            f"<b>{path.name}</b> skipped: not added: {app_documents.MAX_UPLOAD_FILES} files are indexed per upload"
            in summary
        )
    assert summary.count("skipped") == 10


# --- the running app --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served_port(tmp_path_factory: pytest.TempPathFactory, packaged_model: str) -> Iterator[int]:
    """``python ui.py --allowed-hosts rag.example.org`` on a free loopback port, its password in $RAG_AUTH."""
    root = tmp_path_factory.mktemp("ui-access")
    (root / "corpus").mkdir()
    shutil.copy(SEED, root / "corpus" / "seed-article.md")
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "RAG_AUTH": "ann:s3cret"}
    command = [sys.executable, str(ROOT / "ui.py"), "--corpus", str(root / "corpus"), "--index", str(root / "index"),
               "--port", str(port), "--allowed-hosts", "rag.example.org"]  # fmt: skip
    log = (root / "app.log").open("w")
    process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        started = time.monotonic()
        while time.monotonic() - started < 240:
            assert process.poll() is None, (root / "app.log").read_text()[-3000:]
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        assert "s3cret" not in " ".join(command), "the password is not on the command line"
        yield port
    finally:
        stop_app(process)
        log.close()


def request(port: int, method: str, path: str, host: str, origin: str | None = None, body: str = "") -> int:
    """The status of a request sent to 127.0.0.1 with the given Host (and Origin) headers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": host, "Content-Type": "application/json"}
    if origin:
        headers["Origin"] = origin
    try:
        connection.request(method, path, body=body or None, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.slow
def test_a_rebound_foreign_host_name_is_refused(served_port: int) -> None:
    evil = f"evil.example:{served_port}"
    assert request(served_port, "GET", "/", evil, f"http://{evil}") == 403
    assert request(served_port, "GET", "/gradio_api/info", evil) == 403
    body = '{"data": ["China launches a chip fund."]}'
    assert request(served_port, "POST", "/gradio_api/call/lookup", evil, f"http://{evil}", body) == 403


@pytest.mark.slow
def test_loopback_and_allowed_names_are_answered(served_port: int) -> None:
    for host in (
        f"127.0.0.1:{served_port}",
        f"localhost:{served_port}",
        f"[::1]:{served_port}",
        f"rag.example.org:{served_port}",
    ):
        assert request(served_port, "GET", "/", host) == 200, host


@pytest.mark.slow
def test_a_foreign_origin_on_a_loopback_host_is_refused(served_port: int) -> None:
    assert request(served_port, "GET", "/gradio_api/info", f"127.0.0.1:{served_port}", "http://evil.example") == 403


@pytest.mark.slow
def test_the_password_from_the_environment_guards_the_app(served_port: int) -> None:
    host = f"127.0.0.1:{served_port}"
    assert request(served_port, "GET", "/gradio_api/info", host) in (401, 403), "no login, no API"


def test_the_app_refuses_an_index_folder_holding_other_data(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / "seed-article.md")
    project = tmp_path / "proj"
    (project / "gen-reports").mkdir(parents=True)
    (project / "gen-reports" / "q3.txt").write_text("numbers", encoding="utf-8")
    (project / "manifest.json").write_text("{}", encoding="utf-8")
    assert app.main(["--corpus", str(corpus), "--index", str(project)]) == 1
    error = capsys.readouterr().err
    assert error.splitlines()[-1].startswith("rag serve: error: refusing to write an index into")
    assert "Traceback" not in error
    assert sorted(p.relative_to(project).as_posix() for p in project.rglob("*")) == [
        "gen-reports",
        "gen-reports/q3.txt",
        "manifest.json",
    ]
