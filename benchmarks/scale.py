"""rag on Ray, side by side in one run: build throughput (1 and 2 Ray workers, one process), fan-out, shard memory.

python benchmarks/scale.py [--data PATH] [--sentences 3000] [--repeats 2] [--questions 60] [--json]
"""

from __future__ import annotations

import logging
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from throughput import (  # noqa: E402
    benchmark_parser,
    data_missing,
    emit,
    machine,
    machine_line,
    squad_questions,
    write_corpus,
)

from rag import build_index, load_index  # noqa: E402
from rag.cluster.build import build_on_ray  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.encoder.embedding import load_embedder  # noqa: E402

METHOD = """\
The corpus is benchmarks/throughput.py's: the SQuAD contexts of --data, article copies with
two words of each sentence swapped, about --sentences sentences. A local Ray cluster of two
nodes of one CPU each (ray.cluster_utils.Cluster) runs on this machine.

Build throughput: after one warm-up build of each kind, --repeats timed builds of each, in
turn, into fresh folders: today's single-process build_index (its encoder object loaded
once beforehand and passed in, both cores busy: 2 encoder workers), and build_on_ray with 1
and with 2 workers (one task and one thread per worker; the worker processes keep the model
they loaded in the warm-up, as a long-lived cluster does). Sentences per second by wall
clock, best of the repeats; the model's load time is reported apart.

Fan-out: the 2-worker Ray index, written as 4 segments, is loaded once in this process and
once as 2 shard actors (one per node). Each SQuAD question (--questions of them) is asked of
both, in alternating order, after a warm-up question; the overhead is the sharded p50 minus
the single-process p50 (both include encoding the question on the driver), and every answer
is compared field by field. In a second pass, each call to the shards is timed, and the
same call made on copies of the shards in this process. Memory per shard: each actor's resident set (VmRSS),
and an idle actor's for comparison.
"""


def timed(function: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def measure_builds(ray: Any, corpus: Path, work: Path, repeats: int, embedder: Any) -> dict[str, Any]:
    """Best sentences/s of each build kind, built in turn into fresh folders."""
    kinds = {
        "single_process": lambda target: build_index(corpus, target, embedder=embedder),
        "ray_1_worker": lambda target: build_on_ray(corpus, target, None, None, ray, workers=1, batches=1),
        "ray_2_workers": lambda target: build_on_ray(corpus, target, None, None, ray, workers=2, batches=2),
    }
    seconds: dict[str, list[float]] = {kind: [] for kind in kinds}
    sentences = 0
    for attempt in range(repeats + 1):  # the first round warms up (worker processes load the model)
        for kind, build in kinds.items():
            target = work / f"{kind}-{attempt}"
            elapsed, index = timed(lambda build=build, target=target: build(target))
            sentences = index.build_report.sentences
            if attempt:
                seconds[kind].append(elapsed)
            shutil.rmtree(target, ignore_errors=True)
    rates = {kind: sentences / min(values) for kind, values in seconds.items()}
    return {
        "sentences": sentences,
        "seconds": {kind: [round(s, 2) for s in values] for kind, values in seconds.items()},
        "sentences_per_second": {kind: round(rate, 1) for kind, rate in rates.items()},
        "two_workers_vs_one": round(rates["ray_2_workers"] / rates["ray_1_worker"], 3),
        "two_workers_vs_single_process": round(rates["ray_2_workers"] / rates["single_process"], 3),
    }


def measure_fan_out(ray: Any, corpus: Path, work: Path, questions: list[str]) -> dict[str, Any]:
    """p50 of a question in one process and on 2 shards, their answers compared, and each shard's memory."""
    path = work / "served"
    build_on_ray(corpus, path, None, None, ray, workers=2, batches=4)
    single = load_index(path)
    sharded = load_index(path, ray=True, shards=2)
    for index in (single, sharded):
        index.ask(questions[0])  # loads the encoder and warms the caches
    times: dict[str, list[float]] = {"single_process": [], "sharded": []}
    same = 0
    for number, question in enumerate(questions[1:]):
        order = [("single_process", single), ("sharded", sharded)]
        found = {}
        for name, index in order if number % 2 == 0 else order[::-1]:
            elapsed, answer = timed(lambda index=index, question=question: index.ask(question))
            times[name].append(elapsed * 1000)
            found[name] = asdict(answer)
        same += found["single_process"] == found["sharded"]
    calls = _time_shard_calls(sharded, path)  # a second pass, so that the timing above is not disturbed
    for question in questions[1:]:
        sharded.ask(question)
    p50 = {name: statistics.median(values) for name, values in times.items()}
    paired = statistics.median(s - o for s, o in zip(times["sharded"], times["single_process"], strict=True))

    @ray.remote(num_cpus=0)
    class Idle:
        def memory(self) -> int:
            return _rss()

    idle = Idle.remote()
    result = {
        "questions": len(questions) - 1,
        "identical_answers": same,
        "p50_ms": {name: round(value, 2) for name, value in p50.items()},
        "fan_out_overhead_p50_ms": round(p50["sharded"] - p50["single_process"], 2),
        "paired_overhead_median_ms": round(paired, 2),
        "shard_call_p50_ms": round(statistics.median(calls["ray"]), 2),
        "same_calls_in_process_p50_ms": round(statistics.median(calls["in_process"]), 2),
        "shard_rss_mb": [round(m / 2**20, 1) for m in sharded.shards.memory()],
        "idle_actor_rss_mb": round(ray.get(idle.memory.remote()) / 2**20, 1),
        "shard_segments": sharded.shards.segments,
        "sentences": sharded.manifest["counts"]["sentences"],
    }
    sharded.close()
    return result


def _time_shard_calls(sharded: Any, path: Path) -> dict[str, list[float]]:
    """Time each call to the shards, and the same call made on copies of the shards in this process, serially."""
    from rag.cluster.shard import Shard
    from rag.index.manifest import read_manifest

    manifest = read_manifest(path)
    segments = {s.name: s for s in manifest.segments}
    settings = Config.from_dict(manifest.settings).retrieval
    generation = str(path / manifest.generation)
    copies = [
        Shard(str(path), generation, [segments[n] for n in names], settings.bm25_k1, settings.bm25_b)
        for names in sharded.shards.segments
    ]
    times: dict[str, list[float]] = {"ray": [], "in_process": []}
    call = sharded.shards.call

    def timed_call(method: str, *args: Any) -> list[Any]:
        elapsed, found = timed(lambda: call(method, *args))
        times["ray"].append(elapsed * 1000)
        elapsed, _ = timed(lambda: [getattr(copy, method)(*args) for copy in copies])
        times["in_process"].append(elapsed * 1000)
        return found

    sharded.shards.call = timed_call
    return times


def _rss() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def run(data: Path, target: int, repeats: int, questions: int) -> dict[str, Any]:
    import ray
    from ray.cluster_utils import Cluster

    work = Path(tempfile.mkdtemp(prefix="rag-scale-"))
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, logging_level=logging.WARNING, log_to_driver=False)
        corpus = work / "corpus"
        write_corpus(corpus, data, target)
        settings = Config().embedding
        load_seconds, embedder = timed(
            lambda: load_embedder(
                settings.model,
                settings.encoder,
                threads=settings.threads,
                batch_size=settings.batch_size,
                workers=settings.workers,
            )
        )
        builds = measure_builds(ray, corpus, work, repeats, embedder)
        fan_out = measure_fan_out(ray, corpus, work, squad_questions(data)[: questions + 1])
        return {"machine": machine(), "model_load_seconds": round(load_seconds, 2), "build": builds, "serve": fan_out}
    finally:
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def print_report(result: dict[str, Any]) -> None:
    build, serve = result["build"], result["serve"]
    rates = build["sentences_per_second"]
    print(
        f"build of {build['sentences']} sentences, best of the repeats (model load {result['model_load_seconds']} s):"
    )
    for kind, rate in rates.items():
        print(f"  {kind:16s} {rate:8.1f} sentences/s   runs {build['seconds'][kind]} s")
    print(f"  2 Ray workers / 1 Ray worker:    {build['two_workers_vs_one']:.3f}  (target >= 1.7)")
    print(f"  2 Ray workers / single process:  {build['two_workers_vs_single_process']:.3f}  (target >= 0.9)")
    p50 = serve["p50_ms"]
    print(f"serving {serve['sentences']} sentences, {serve['questions']} questions:")
    print(f"  p50 single process {p50['single_process']:.2f} ms, on 2 shards {p50['sharded']:.2f} ms")
    print(f"  fan-out overhead at p50: {serve['fan_out_overhead_p50_ms']:.2f} ms (target <= 5)")
    print(f"  median of paired differences: {serve['paired_overhead_median_ms']:.2f} ms")
    print(f"  identical answers: {serve['identical_answers']} of {serve['questions']}")
    print(
        f"  a call to the shards: p50 {serve['shard_call_p50_ms']:.2f} ms; the same searches in this process "
        f"(both shards, one after the other): {serve['same_calls_in_process_p50_ms']:.2f} ms"
    )
    print(f"  shard memory (RSS): {serve['shard_rss_mb']} MB; an idle actor: {serve['idle_actor_rss_mb']} MB")


def main() -> int:
    parser = benchmark_parser(__doc__, METHOD)
    parser.add_argument("--sentences", type=int, default=3000, help="about this many sentences (default 3000)")
    parser.add_argument("--repeats", type=int, default=2, help="timed builds of each kind (default 2)")
    parser.add_argument("--questions", type=int, default=60, help="questions asked of each index (default 60)")
    args = parser.parse_args()
    if data_missing(args.data):
        return 1
    if not args.json:
        print(machine_line(machine()), flush=True)
    result = run(args.data, args.sentences, max(1, args.repeats), max(2, args.questions))
    return emit(result, args.json, print_report)


if __name__ == "__main__":
    sys.exit(main())
