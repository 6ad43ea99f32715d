"""Start-up and answer time of the browser app, for two checkouts side by side in one run.

    python benchmarks/ui_timing.py /work/main /work/wt/ui --rounds 3

For each checkout (its own ``ui.py`` and ``rag/``, via PYTHONPATH), over its own copy of
``corpus/`` with an index built beforehand: start ``python ui.py``, time until the port
answers and until the page shows the question box in Chromium, then ask the questions in
the browser (Enter -> the reply rendered) and through gradio_client. The checkouts
alternate round by round, so that machine noise falls on both alike. Medians are printed.

Then, for each checkout that has ``rag.app.pages``, the time to render a cited PDF page as
printed with its quote highlighted (a two-page PDF printed by Chromium): the first render in a
fresh process (loading PDFium) and the median of the next ten.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTIONS = (
    "How much money does the new chip fund aim to raise?",
    "Which companies did Li Qiang visit?",
    "What are the little giants?",
    "Who won the 2022 FIFA World Cup?",
    "When were the previous chip funds launched?",
)
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(root: Path, work: Path) -> tuple[subprocess.Popen, int, float]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    command = [sys.executable, str(root / "ui.py"), "--corpus", str(work / "corpus"), "--index", str(work / "index"),
               "--port", str(port)]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{root}/ui.py exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port, time.perf_counter() - started
        except OSError:
            time.sleep(0.05)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def browser_round(browser, port: int) -> tuple[float, list[float]]:  # untyped: a Playwright Browser
    """Seconds from navigation to a usable question box, and each question's Enter -> reply rendered."""
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    started = time.perf_counter()
    page.goto(f"http://127.0.0.1:{port}/")
    page.wait_for_selector("#rag-question textarea", timeout=60_000)
    ready = time.perf_counter() - started
    answers = []
    for number, question in enumerate(QUESTIONS, start=1):
        page.fill("#rag-question textarea", question)
        started = time.perf_counter()
        page.press("#rag-question textarea", "Enter")
        page.wait_for_function(
            "(n) => document.querySelectorAll('#rag-chat [data-testid=\"bot\"]').length >= 2 * n",
            arg=number,
            timeout=60_000,
        )
        answers.append(time.perf_counter() - started)
    page.close()
    return ready, answers


def client_round(port: int) -> list[float]:
    from gradio_client import Client

    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    times = []
    for question in QUESTIONS:
        started = time.perf_counter()
        client.predict(question, api_name="/ask")
        times.append(time.perf_counter() - started)
    return times


PDF_SENTENCE = (
    "Divers surveyed the reefs at Lizard Island between January and April 2024 and counted fewer young corals "
    "than in any year before."
)
RENDER = """
import sys, time
from rag.app.pages import page_image, _KEPT
times = []
for _ in range(11):
    _KEPT.clear()
    started = time.perf_counter()
    shown = page_image(sys.argv[1], 2, sys.argv[2])
    times.append(time.perf_counter() - started)
assert shown.marked
print(times[0], sorted(times[1:])[5])
"""


def pdf_round(browser, root: Path, folder: Path) -> tuple[float, float] | None:  # browser: a Playwright Browser
    """Seconds to render page 2 with its sentence highlighted (first, median of the next ten); None without it."""
    if not (root / "rag" / "app_pages.py").exists():
        return None
    pdf = folder / "coral-survey.pdf"
    if not pdf.exists():
        page = browser.new_page()
        page.set_content(f'<h1>Coral survey</h1><p style="page-break-before: always; width: 260px">{PDF_SENTENCE}</p>')
        page.pdf(path=str(pdf))
        page.close()
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", RENDER, str(pdf), PDF_SENTENCE], env=env, capture_output=True,
                         text=True, check=True).stdout.split()  # fmt: skip
    return float(out[0]), float(out[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="+", type=Path, help="folders holding ui.py and rag/")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="rag-ui-timing-"))
    folders = {}
    for number, root in enumerate(args.checkouts):
        folder = work / f"app{number}"
        shutil.copytree(root / "corpus", folder / "corpus")
        process, _, _ = start(root.resolve(), folder)  # builds the index once, not timed
        stop(process)
        folders[root] = folder
    results = {root: {"port": [], "ready": [], "browser": [], "client": []} for root in args.checkouts}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        for _ in range(args.rounds):
            for root in args.checkouts:
                process, port, seconds = start(root.resolve(), folders[root])
                try:
                    ready, answers = browser_round(browser, port)
                    results[root]["port"].append(seconds)
                    results[root]["ready"].append(ready)
                    results[root]["browser"].extend(answers)
                    results[root]["client"].extend(client_round(port))
                finally:
                    stop(process)
        renders = {root: pdf_round(browser, root.resolve(), folders[root]) for root in args.checkouts}
        browser.close()
    shutil.rmtree(work, ignore_errors=True)
    print(f"{'checkout':<24} {'start->port s':>14} {'page ready s':>13} {'browser ask s':>14} {'client ask s':>13}")
    for root, timing in results.items():
        print(
            f"{str(root):<24} {statistics.median(timing['port']):>14.2f} {statistics.median(timing['ready']):>13.2f} "
            f"{statistics.median(timing['browser']):>14.3f} {statistics.median(timing['client']):>13.3f}"
        )
    print(f"({args.rounds} rounds; asks: {len(QUESTIONS)} questions per round; medians)")
    for root, render in renders.items():
        said = "no rag/app/pages.py" if render is None else f"first {render[0]:.3f} s, then median {render[1]:.3f} s"
        print(f"{str(root):<24} PDF page as printed: {said}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
