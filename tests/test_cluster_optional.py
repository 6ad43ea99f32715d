"""Ray stays optional and lazy: the default paths never import it, and asking for it without the extra is one line."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(cwd)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_building_asking_and_looking_up_never_import_ray(tmp_path: Path) -> None:
    completed = _run(
        f"""
        import sys
        import rag
        from rag import build_index, load_index
        from rag.cli.main import main
        from tests.fakes import FakeEmbedder

        index = build_index({str(ROOT / "corpus")!r}, "index", embedder=FakeEmbedder())
        index.ask("How much money does the new chip fund aim to raise?")
        index.lookup("China is intensifying its efforts to achieve technological self-reliance.")
        load_index("index", embedder=FakeEmbedder()).ask("What is the fund?")
        assert main(["info", "--index", "index"]) == 0
        print("ray" in sys.modules, "rag.cluster" in sys.modules)
        """,
        tmp_path,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == "False False"


@pytest.mark.parametrize(
    "arguments",
    [
        ["index", "CORPUS", "--index", "index", "--ray"],
        ["index", "CORPUS", "--index", "index", "--ray", "10.0.0.1:6379"],
        ["ask", "What is the fund?", "--index", "index", "--ray", "10.0.0.1:6379", "--shards", "2"],
    ],
)
def test_asking_for_ray_without_the_extra_is_one_line_naming_the_extra(tmp_path: Path, arguments: list[str]) -> None:
    arguments = [str(ROOT / "corpus") if a == "CORPUS" else a for a in arguments]
    completed = _run(
        f"""
        import sys
        sys.modules["ray"] = None  # as if the extra were not installed: `import ray` fails
        from rag.cli.main import main
        sys.exit(main({arguments!r}))
        """,
        tmp_path,
    )
    assert completed.returncode == 1, completed.stderr
    assert completed.stderr.count("\n") == 1 and "Traceback" not in completed.stderr, completed.stderr
    assert completed.stderr.startswith("rag: error: Ray is not installed")
    assert 'pip install -e ".[ray]"' in completed.stderr
    assert not (tmp_path / "index").exists()  # a refused command leaves everything as it was


def test_shards_without_a_cluster_is_one_line(tmp_path: Path) -> None:
    completed = _run(
        """
        import sys
        from rag.cli.main import main
        sys.exit(main(["ask", "What is the fund?", "--index", "index", "--shards", "2"]))
        """,
        tmp_path,
    )
    assert completed.returncode == 1
    assert (
        completed.stderr.startswith("rag: error: shards are served by Ray actors") and completed.stderr.count("\n") == 1
    ), completed.stderr


def test_serving_on_ray_without_the_extra_is_one_line(tmp_path: Path) -> None:
    completed = _run(
        """
        import sys
        sys.modules["ray"] = None
        from rag.cli.main import main
        sys.exit(main(["serve", "--index", "index", "--ray", "10.0.0.1:6379", "--shards", "2"]))
        """,
        tmp_path,
    )
    assert completed.returncode == 1, completed.stderr
    assert completed.stderr.count("\n") == 1 and 'pip install -e ".[ray]"' in completed.stderr, completed.stderr


def test_a_shard_count_below_one_is_refused_before_any_cluster_is_joined(tmp_path: Path) -> None:
    completed = _run(
        """
        import sys
        sys.modules["ray"] = None  # joining a cluster would fail differently: the count is checked first
        from rag.cli.main import main
        sys.exit(main(["ask", "What is the fund?", "--index", "index", "--ray", "10.0.0.1:6379", "--shards", "0"]))
        """,
        tmp_path,
    )
    assert completed.returncode == 1, completed.stderr
    assert completed.stderr == "rag: error: shards must be a whole number of at least 1, got 0\n", completed.stderr


def test_a_cluster_address_no_one_answers_on_is_one_line_at_once(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    completed = _run(
        f"""
        import sys
        from rag.cli.main import main
        sys.exit(main(["ask", "What is the fund?", "--index", "index", "--ray", "127.0.0.1:{port}"]))
        """,
        tmp_path,
    )
    assert completed.returncode == 1, completed.stderr
    assert completed.stderr.startswith(f"rag: error: cannot reach the Ray cluster at 127.0.0.1:{port}: "), (
        completed.stderr
    )
    assert completed.stderr.count("\n") == 1, completed.stderr
