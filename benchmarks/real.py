"""Real questions that no one here wrote: ask, follow-ups and lookup on four public data sets
(a benchmark, not a test).

Reads the public halves in ../shared/data/real/ (or --data-dir; see its README), never copies
them. The corpora and questions are written once to a work folder; then each checkout of the
code (this one, and every --baseline DIR, e.g. a worktree of an older commit) is run in its own
subprocess, one after another on the same machine, with its own index built by its own code
and the same questions. Only the public API is used (build_index, Index.ask, Index.lookup), so
any commit can be compared. The figures are computed here, from the spans each run cites:

- SQuAD 2.0 (one document per article, paragraphs joined by a blank line): Hit@1 of the top
  candidate (its sentence holds a gold answer span), answerable questions answered at the
  default threshold, off-topic questions (WikiQA and INSCIT first turns asked of the SQuAD
  index) abstained on, and AUROC of the confidence: answerable vs crowd-written unanswerable
  questions (in-topic) and vs off-topic ones.
- WikiQA (real Bing questions, one document per Wikipedia summary named by its title, all in
  one index): Hit@1
  over questions with an answering sentence (the top candidate overlaps one), AUROC answerable
  vs not, and the share of the unanswerable ones abstained on.
- INSCIT (real conversations; the evidence passages make the corpus, one document per
  article): a turn is right when its top candidate lies in one of its evidence passages.
  First turns; follow-ups (turns 2 and later) asked alone and with the conversation's
  history (the run's own earlier answers, as a user's chat holds them); answerable turns (a
  direct answer with evidence) abstained on, as a user meets them (follow-ups with history).
- MRPC (human paraphrase judgements): an index of every pair's second sentence; each first
  sentence is looked up. A faithful paraphrase (label 1, the same numbers and the same names
  on both sides, see ``faithful``: number words count, and a name may open a sentence) must
  be supported (exact / near-exact / paraphrase) by its own pair; AUROC of the lookup score,
  paraphrase vs not; lookup p50. The figure under the definition before this release (digits
  only, each text's first word skipped, ``faithful_before``) is printed beside it for one
  release, so that the change of yardstick shows.

Ask and lookup latencies are the median over the run's own calls (a checkout's runs are
sequential, so the columns are comparable as ratios, not as absolute figures); SQuAD also
gives ask's p50 as a multiple of encoding the question alone (the issue's cost measure; each
question is encoded alone right after it is asked, so that a change of load on a shared machine
moves both p50s alike).

    python benchmarks/real.py [--baseline DIR ...] [--sets squad,wikiqa,inscit,mrpc] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "real"
SETS = ("squad", "wikiqa", "inscit", "mrpc")
SUPPORTED = ("exact", "near-exact", "paraphrase")


# ---------------------------------------------------------------------------------------------
# The data: documents (name -> text) and what is asked of them, with the gold spans.


def squad_data(data_dir: Path) -> tuple[dict[str, str], list[dict]]:
    """One document per article; each question with its gold answer spans in the document."""
    documents, questions = {}, []
    for article in json.loads((data_dir / "squad2-dev-public.json").read_text(encoding="utf-8"))["data"]:
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", article["title"]) + ".txt"
        text, paragraphs = "", article["paragraphs"]
        for number, paragraph in enumerate(paragraphs):
            offset = len(text)
            text += paragraph["context"] + ("\n\n" if number < len(paragraphs) - 1 else "\n")
            for qa in paragraph["qas"]:
                golds = sorted(
                    {(offset + a["answer_start"], offset + a["answer_start"] + len(a["text"])) for a in qa["answers"]}
                )
                questions.append(
                    {"q": qa["question"], "doc": name, "golds": golds, "answerable": not qa["is_impossible"]}
                )
        documents[name] = text
    return documents, questions


def wikiqa_data(data_dir: Path) -> tuple[dict[str, str], list[dict]]:
    """One document per summary (its sentences joined by a space, in order); each question with
    the spans of its answering sentences (none: unanswerable)."""
    with (data_dir / "wikiqa-test-public.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    sentences: dict[str, dict[int, str]] = defaultdict(dict)
    names: dict[str, str] = {}  # a document is named by its title, as a file of that article would be
    for row in rows:
        sentences[row["DocumentID"]][int(row["SentenceID"].rsplit("-", 1)[1])] = " ".join(row["Sentence"].split())
        title = re.sub(r"[^\w ,'()-]+", "_", row["DocumentTitle"]).strip() or row["DocumentID"]
        names.setdefault(
            row["DocumentID"], title if title + ".txt" not in names.values() else f"{title} {row['DocumentID']}"
        )
    names = {doc: f"{name}.txt" for doc, name in names.items()}
    documents, spans = {}, {}
    for doc, parts in sentences.items():
        text = ""
        for number in sorted(parts):
            text += " " if text else ""
            spans[(doc, number)] = (len(text), len(text) + len(parts[number]))
            text += parts[number]
        documents[names[doc]] = text + "\n"
    questions: dict[str, dict] = {}
    for row in rows:
        item = questions.setdefault(
            row["QuestionID"], {"q": row["Question"], "doc": names[row["DocumentID"]], "golds": []}
        )
        if row["Label"] == "1":
            item["golds"].append(spans[(row["DocumentID"], int(row["SentenceID"].rsplit("-", 1)[1]))])
    for item in questions.values():
        item["answerable"] = bool(item["golds"])
    return documents, list(questions.values())


def inscit_data(data_dir: Path) -> tuple[dict[str, str], list[dict]]:
    """The evidence passages, one document per article (passages in order, a blank line apart);
    each dialogue as its user turns, each turn with the spans of its evidence passages."""
    dialogues = json.loads((data_dir / "inscit-dev-public.json").read_text(encoding="utf-8"))
    passages: dict[str, dict[int, str]] = defaultdict(dict)
    for dialogue in dialogues.values():
        for turn in dialogue["turns"]:
            for evidence in [e for label in turn["labels"] for e in label["evidence"]] + [
                e for earlier in turn.get("prevEvidence", []) for e in earlier
            ]:
                article, number = evidence["passage_id"].rsplit(":", 1)
                passages[article][int(number)] = " ".join(evidence["passage_text"].split())
    documents, where = {}, {}
    for article, parts in passages.items():
        name, text = re.sub(r"[^A-Za-z0-9_-]+", "_", article) + ".txt", ""
        for number in sorted(parts):
            text += "\n\n" if text else ""
            where[f"{article}:{number}"] = (name, len(text), len(text) + len(parts[number]))
            text += parts[number]
        documents[name] = text + "\n"
    conversations = []
    for key, dialogue in dialogues.items():
        turns = []
        for turn in dialogue["turns"]:
            evidence = [where[e["passage_id"]] for label in turn["labels"] for e in label["evidence"]]
            answerable = any(label["responseType"] == "directAnswer" and label["evidence"] for label in turn["labels"])
            turns.append({"q": turn["context"][-1], "golds": sorted(set(evidence)), "answerable": answerable})
        conversations.append({"id": key, "turns": turns})
    return documents, conversations


_NUMBER = re.compile(r"\d[\d,.]*")
_NAME = re.compile(r"\b[A-Z][\w'-]*")
# Numbers written in words, read as digits where the word is one number ("three" is "3",
# "twenty-five" is "25"); a scale word stays a word ("one million" and "1 million" both read
# "1", "million"). Written here, apart from rag's own number reader: the yardstick must not be
# the thing measured.
_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen".split()
    )
} | {word: str(10 * n) for n, word in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
_NUMBER_WORDS |= {"dozen": "12", "half": "0.5"}
# Ordinals from "third" on, as the digits they stand for ("fifth" and "5th" are "5"); "first" and
# "second" are left out: as often a sequence or a time ("at first", "a second") as a number.
_NUMBER_WORDS |= {
    word: str(value)
    for value, word in enumerate(
        "third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth fifteenth "
        "sixteenth seventeenth eighteenth nineteenth twentieth".split(),
        3,
    )
}
_SCALE_WORDS = frozenset("hundred thousand million billion trillion".split())
_SCALE_ABBREVIATIONS = {"bn": "billion", "mn": "million", "mln": "million", "tn": "trillion"}
# Words read as numbers: digits, number words (hyphenated ones too), scale words.
_NUMERIC = re.compile(r"\d[\d,.]*|[A-Za-z]+(?:-[A-Za-z]+)*")
# A word opens a sentence or a quotation (its capital then says nothing about a name) at the
# text's start, after a sentence's end, or right after an opening quote or bracket (one that
# follows a space: a closing quote, '2004," Bush said', follows the words it closes).
_OPENING = re.compile(r"(?:^|[.!?]\s+|(?:^|\s)[\"“‘(]|(?:^|\s)``\s*)$")


def numbers_in(text: str) -> set[str]:
    """The numbers of ``text``: digit strings (commas and a trailing point dropped) and number words as digits."""
    found = set()
    for m in _NUMERIC.finditer(text):
        token = m.group(0)
        if token[0].isdigit():
            found.add(token.replace(",", "").rstrip("."))
            continue
        parts = token.lower().split("-")
        if all(p in _NUMBER_WORDS for p in parts):  # "twenty-five" is 25, "one" is 1
            found.add(str(sum(float(_NUMBER_WORDS[p]) for p in parts)).removesuffix(".0"))
        elif len(parts) == 1 and parts[0].removesuffix("s") in _SCALE_WORDS:
            found.add(parts[0].removesuffix("s"))
        elif parts[0] in _SCALE_ABBREVIATIONS and m.start() and text[m.start() - 1].isdigit():
            found.add(_SCALE_ABBREVIATIONS[parts[0]])  # "$36.9bn" is "$36.9 billion"
    return found


def word_usage(texts: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Each word (lower-cased) -> in how many of ``texts`` it is capitalised mid-sentence, and in lower case."""
    capitalised: Counter[str] = Counter()
    lower: Counter[str] = Counter()
    for text in texts:
        capitalised.update(w.lower() for w in _mid_sentence_names(text))
        lower.update(set(re.findall(r"\b[a-z][\w'-]*", text)))
    return {w: (capitalised[w], lower[w]) for w in capitalised.keys() | lower.keys()}


def _name_by_usage(word: str, usage: dict[str, tuple[int, int]]) -> bool:
    """Whether a capitalised word that opens a sentence is a name, by how the data set writes it:
    capitalised mid-sentence at least as often as in lower case ("Moose" the police chief, in as
    many texts as "a moose"; not "Police", 49 texts capitalised to 160 in lower case), or never
    written at all but there."""
    capitalised, lower = usage.get(word.lower().split("-")[0], (0, 0))
    return capitalised >= lower


def names_in(text: str, known: set[str], usage: dict[str, tuple[int, int]]) -> set[str]:
    """The names of ``text``: its capitalised words, in lower case (possessive "'s" dropped; the
    pronoun "I" and number words aside). One that opens a sentence or a quotation is a name when ``known``
    (the words the pair capitalises mid-sentence) holds it, or by its ``usage``."""
    found = set()
    for m in _NAME.finditer(text):
        word = re.sub(r"['’]s$", "", m.group(0))
        if word == "I" or numbers_in(word):
            continue  # a pronoun; a number ("Twenty-seven") is compared as a number
        # A hyphenated word by its first part: "Low-income" is not a name, "Mascia-Frye" is.
        if _OPENING.search(text[: m.start()]) and word not in known and not _name_by_usage(word, usage):
            continue
        found.add(word.lower())  # "MALAYSIA" names what "Malaysia" does
    return found


def _mid_sentence_names(text: str) -> set[str]:
    """The capitalised words of ``text`` that do not open a sentence or a quotation."""
    return {re.sub(r"['’]s$", "", m.group(0)) for m in _NAME.finditer(text) if not _OPENING.search(text[: m.start()])}


def faithful(first: str, second: str, usage: dict[str, tuple[int, int]] | None = None) -> bool:
    """The same numbers and the same names on both sides (the README's "faithful paraphrase").

    Numbers are digit strings, number words and ordinals from "third" on, read as digits ("three
    others" is not "four others"; "three" is "3"). Names are capitalised words; one opening a
    sentence or a quotation is a name when the pair capitalises it mid-sentence, or when the data
    set (``usage``, see ``word_usage``; by default the pair alone) never writes it in lower case or
    capitalises it mid-sentence more often: "Taylor's aides" / "His aides" name someone on one
    side only. Independent of rag's own readers of numbers and names: the yardstick must not be
    the thing measured.
    """
    usage = word_usage((first, second)) if usage is None else usage
    known = _mid_sentence_names(first) | _mid_sentence_names(second)
    same_numbers = numbers_in(first) == numbers_in(second)
    return same_numbers and names_in(first, known, usage) == names_in(second, known, usage)


def faithful_before(first: str, second: str) -> bool:
    """The definition before this release, kept for one release so that the change shows:
    numbers as digit strings only, names as capitalised words other than each text's first word."""

    def numbers(text: str) -> set[str]:
        return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}

    def names(text: str) -> set[str]:
        words = _NAME.findall(text)
        first_word = re.match(r"\W*([\w'-]+)", text)
        return {w for w in words if not (first_word and text.find(w) == first_word.start(1))}

    return numbers(first) == numbers(second) and names(first) == names(second)


def mrpc_data(data_dir: Path) -> tuple[dict[str, str], list[dict]]:
    """Every pair's second sentence, a paragraph each, 100 pairs to a document; each pair's first
    sentence as a claim, with its label and the span of its own second sentence."""
    with (data_dir / "mrpc-train.tsv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    documents, claims = {}, []
    usage = word_usage(text for row in rows for text in row[3:5])
    for block in range(0, len(rows), 100):
        name, text = f"mrpc-{block // 100:03d}.txt", ""
        for label, _, _, first, second in rows[block : block + 100]:
            second = " ".join(second.split())
            text += "\n\n" if text else ""
            claims.append({"q": " ".join(first.split()), "doc": name, "golds": [(len(text), len(text) + len(second))],
                           "label": int(label), "faithful": label == "1" and faithful(first, second, usage),
                           "faithful before": label == "1" and faithful_before(first, second)})  # fmt: skip
            text += second
        documents[name] = text + "\n"
    return documents, claims


def prepare(data_dir: Path, sets: list[str], limit: int | None, seed: int, work: Path) -> dict:
    """Write each set's corpus under ``work`` and return what is asked (and its gold)."""
    rng = random.Random(seed)

    def sample(items: list) -> list:
        return items if limit is None or len(items) <= limit else sorted(rng.sample(items, limit), key=items.index)

    plan: dict = {}
    loaded = {}
    for name, loader in (("squad", squad_data), ("wikiqa", wikiqa_data), ("inscit", inscit_data), ("mrpc", mrpc_data)):
        if name in sets or (name in ("wikiqa", "inscit") and "squad" in sets):
            loaded[name] = loader(data_dir)
    for name in sets:
        documents, items = loaded[name]
        folder = work / "corpus" / name
        folder.mkdir(parents=True)
        for doc, text in documents.items():
            (folder / doc).write_text(text, encoding="utf-8")
        plan[name] = {"documents": documents, "items": sample(items)}
    if "squad" in sets:  # off-topic questions: real questions of the other sets, asked of the SQuAD index
        offtopic = [q["q"] for q in loaded["wikiqa"][1]] + [c["turns"][0]["q"] for c in loaded["inscit"][1]]
        plan["squad"]["offtopic"] = sample(offtopic)
    return plan


# ---------------------------------------------------------------------------------------------
# One checkout's run, in a subprocess whose PYTHONPATH is that checkout (nothing else imported).


def worker(work: Path, tag: str, sets: list[str]) -> None:
    import inspect

    from rag import build_index

    plan = json.loads((work / "plan.json").read_text(encoding="utf-8"))
    out: dict = {}
    for name in sets:
        began = time.perf_counter()
        index = build_index(work / "corpus" / name, work / tag / f"index-{name}")
        build_seconds = time.perf_counter() - began
        items = plan[name]["items"]
        if name == "mrpc":
            out[name] = {"claims": [_looked_up(index, c["q"]) for c in items]}
        elif name == "inscit":
            takes_history = "history" in inspect.signature(index.ask).parameters
            out[name] = {"conversations": [_conversation(index, c, takes_history) for c in items]}
        else:
            out[name] = {"questions": [], "encode_ms": []}
            for q in items:  # each question asked, then encoded alone: both under the same load
                out[name]["questions"].append(_asked(index, q["q"]))
                out[name]["encode_ms"].append(_encoded(index, q["q"]))
            if name == "squad":
                out[name]["offtopic"] = [_asked(index, q) for q in plan[name]["offtopic"]]
        out[name]["build_seconds"] = build_seconds
    (work / f"{tag}.json").write_text(json.dumps(out), encoding="utf-8")


def _asked(index, question: str, **options) -> dict:
    return _asked_with_answer(index, question, **options)[0]


def _asked_with_answer(index, question: str, **options) -> tuple[dict, object]:
    began = time.perf_counter()
    answer = index.ask(question, **options)
    ms = (time.perf_counter() - began) * 1000
    candidates = answer.candidates or next((p.candidates for p in getattr(answer, "parts", ()) if p.candidates), ())
    top = candidates[0] if candidates else None
    return {
        "abstained": answer.abstained, "confidence": answer.confidence, "ms": ms,
        "top": [top.doc_id, top.start, top.end, top.text] if top else None,
        "searched_for": getattr(answer, "searched_for", question),
    }, answer  # fmt: skip


def _encoded(index, question: str) -> float:
    """Milliseconds to encode the question alone, the floor under any ask (warm, one at a time)."""
    began = time.perf_counter()
    index.embedder.encode([question])
    return (time.perf_counter() - began) * 1000


def _conversation(index, conversation: dict, takes_history: bool) -> dict:
    alone, chained, history = [], [], []
    for turn in conversation["turns"]:
        record, answer = _asked_with_answer(index, turn["q"])
        alone.append(record)
        if takes_history:
            if history:
                record, answer = _asked_with_answer(index, turn["q"], history=list(history))
            history.append(answer)
            chained.append(record)
    return {"alone": alone, "with_history": chained if takes_history else None}


def _looked_up(index, claim: str) -> dict:
    began = time.perf_counter()
    matches = index.lookup(claim)
    ms = (time.perf_counter() - began) * 1000
    return {
        "kinds": [m.kind for m in matches], "scores": [m.score for m in matches], "ms": ms,
        "cited": [[m.citation.doc_id, m.citation.start, m.citation.end] if m.citation else None for m in matches],
        "reasons": [getattr(m, "reason", "") for m in matches],
    }  # fmt: skip


def run_checkout(code: Path, work: Path, tag: str, sets: list[str]) -> dict:
    log = work / f"{tag}.log"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(PYTHONPATH=str(code), HF_HUB_OFFLINE="1", TQDM_DISABLE="1")
    with log.open("w") as handle:
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(work), "--tag", tag]
        done = subprocess.run(
            [*command, "--sets", ",".join(sets)], env=env, cwd=str(work), stdout=handle, stderr=subprocess.STDOUT
        )
    if done.returncode:
        sys.exit(f"real.py: the run of {code} failed (exit {done.returncode}); see {log}:\n{log.read_text()[-3000:]}")
    return json.loads((work / f"{tag}.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# The figures.


def auroc(positives: list[float], negatives: list[float]) -> float:
    if not positives or not negatives:
        return float("nan")
    greater = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return greater / (len(positives) * len(negatives))


def _rate(values: list[bool]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _holds(top, doc: str, golds) -> bool:
    """The top candidate's sentence contains a gold answer span of the right document."""
    return bool(top) and top[0] == doc and any(top[1] <= s and e <= top[2] for s, e in golds)


def _overlaps(top, golds) -> bool:
    """The top candidate lies in (overlaps) one of the gold spans, each (doc, start, end)."""
    return bool(top) and any(top[0] == d and top[1] < e and s < top[2] for d, s, e in golds)


def _checked(top, documents: dict[str, str], problems: list[str]) -> None:
    if top and documents.get(top[0], "")[top[1] : top[2]] != top[3]:
        problems.append(f"{top[0]}[{top[1]}:{top[2]}] is not the cited text")


def squad_figures(plan: dict, run: dict, problems: list[str]) -> dict:
    items, records = plan["items"], run["questions"]
    for r in records:
        _checked(r["top"], plan["documents"], problems)
    answerable = [r for q, r in zip(items, records, strict=True) if q["answerable"]]
    unanswerable = [r for q, r in zip(items, records, strict=True) if not q["answerable"]]
    hits = [_holds(r["top"], q["doc"], q["golds"]) for q, r in zip(items, records, strict=True) if q["answerable"]]
    offtopic = run["offtopic"]
    return {
        "hit@1": _rate(hits),
        "answered": _rate([not r["abstained"] for r in answerable]),
        "unanswerable abstained": _rate([r["abstained"] for r in unanswerable]),
        "off-topic abstained": _rate([r["abstained"] for r in offtopic]),
        "AUROC in-topic unanswerable": auroc(
            [r["confidence"] for r in answerable], [r["confidence"] for r in unanswerable]
        ),
        "AUROC off-topic": auroc([r["confidence"] for r in answerable], [r["confidence"] for r in offtopic]),
        "ask p50 ms": statistics.median(r["ms"] for r in records + offtopic),
        "ask p50 / encoding the question p50": statistics.median(r["ms"] for r in records)
        / statistics.median(run["encode_ms"]),
    }


def wikiqa_figures(plan: dict, run: dict, problems: list[str]) -> dict:
    items, records = plan["items"], run["questions"]
    for r in records:
        _checked(r["top"], plan["documents"], problems)
    pairs = list(zip(items, records, strict=True))
    answerable = [r for q, r in pairs if q["answerable"]]
    unanswerable = [r for q, r in pairs if not q["answerable"]]
    return {
        "hit@1": _rate(
            [_overlaps(r["top"], [(q["doc"], *g) for g in q["golds"]]) for q, r in pairs if q["answerable"]]
        ),
        "AUROC": auroc([r["confidence"] for r in answerable], [r["confidence"] for r in unanswerable]),
        "answerable answered": _rate([not r["abstained"] for r in answerable]),
        "unanswerable abstained": _rate([r["abstained"] for r in unanswerable]),
        "ask p50 ms": statistics.median(r["ms"] for r in records),
    }


def inscit_figures(plan: dict, run: dict, problems: list[str]) -> dict:
    first, alone, chained, abstained, rewritten = [], [], [], [], []
    for conversation, record in zip(plan["items"], run["conversations"], strict=True):
        for number, turn in enumerate(conversation["turns"]):
            solo = record["alone"][number]
            with_history = record["with_history"][number] if record["with_history"] else None
            for r in (solo, with_history):
                if r:
                    _checked(r["top"], plan["documents"], problems)
            if not turn["golds"]:
                continue
            if number == 0:
                first.append(_overlaps(solo["top"], turn["golds"]))
            else:
                alone.append(_overlaps(solo["top"], turn["golds"]))
                if with_history:
                    chained.append(_overlaps(with_history["top"], turn["golds"]))
                    rewritten.append(with_history["searched_for"] != turn["q"])
            if turn["answerable"]:
                shown = with_history if with_history and number else solo
                abstained.append(shown["abstained"])
    return {
        "first turns": _rate(first),
        "follow-ups alone": _rate(alone),
        "follow-ups with history": _rate(chained) if chained else float("nan"),
        "follow-ups rewritten": _rate(rewritten) if rewritten else float("nan"),
        "answerable abstained": _rate(abstained),
    }


def mrpc_figures(plan: dict, run: dict, problems: list[str]) -> dict:
    scores: dict[int, list[float]] = {0: [], 1: []}
    for claim, record in zip(plan["items"], run["claims"], strict=True):
        scores[claim["label"]].append(min(record["scores"]) if record["scores"] else 0.0)
    now = _faithful_figures(plan, run, "faithful")
    before = _faithful_figures(plan, run, "faithful before")
    return {
        "faithful paraphrases supported": now["supported"],
        "... citing their own pair": now["own"],
        "faithful called altered": now["altered"],
        "faithful pairs": now["pairs"],
        "faithful (digits only, first words skipped, as before) supported": before["supported"],
        "... called altered": before["altered"],
        "... pairs": before["pairs"],
        "AUROC paraphrase vs not": auroc(scores[1], scores[0]),
        "lookup p50 ms": statistics.median(r["ms"] for r in run["claims"]),
    }


def _faithful_figures(plan: dict, run: dict, key: str) -> dict:
    """Supported, citing their own pair, and called altered, over the pairs ``key`` marks faithful."""
    supported, own, accused = [], [], []
    for claim, record in zip(plan["items"], run["claims"], strict=True):
        if not claim.get(key):
            continue
        ok = all(k in SUPPORTED for k in record["kinds"])
        supported.append(ok)
        golds = [(claim["doc"], *g) for g in claim["golds"]]
        own.append(ok and any(c and _overlaps([*c, ""], golds) for c in record["cited"]))
        accused.append("altered" in record["kinds"])
    return {"supported": _rate(supported), "own": _rate(own), "altered": _rate(accused), "pairs": len(supported)}


FIGURES = {"squad": squad_figures, "wikiqa": wikiqa_figures, "inscit": inscit_figures, "mrpc": mrpc_figures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="the public halves (default: %(default)s)")
    parser.add_argument(
        "--baseline", type=Path, action="append", default=[], help="a checkout to compare with (repeatable)"
    )
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated, of: " + ", ".join(SETS))
    parser.add_argument("--limit", type=int, help="at most N items of each set (a seeded sample), for a quick run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (corpora, indexes, raw records)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--tag", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    if unknown := [s for s in sets if s not in SETS]:
        parser.error(f"unknown set {unknown[0]!r}; choose from {', '.join(SETS)}")
    if args.worker:
        worker(args.worker, args.tag, sets)
        return 0
    if not args.data_dir.is_dir():
        parser.error(f"no data folder at {args.data_dir} (see --data-dir)")
    checkouts = [("this", ROOT)] + [(str(b), b.resolve()) for b in args.baseline]
    work = Path(tempfile.mkdtemp(prefix="rag-real-"))
    plan = prepare(args.data_dir, sets, args.limit, args.seed, work)
    (work / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    results: dict = {}
    for number, (label, code) in enumerate(checkouts):
        began = time.perf_counter()
        raw = run_checkout(code, work, f"run{number}", sets)
        problems: list[str] = []
        results[label] = {name: FIGURES[name](plan[name], raw[name], problems) for name in sets}
        results[label]["seconds"] = time.perf_counter() - began
        if problems:
            results[label]["span problems"] = problems[:5] + (
                [f"... {len(problems)} in all"] if len(problems) > 5 else []
            )
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results, sets, {name: len(plan[name]["items"]) for name in sets})
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"\nwork folder kept: {work}")
    return 0


def print_table(results: dict, sets: list[str], sizes: dict[str, int]) -> None:
    labels = list(results)
    width = max(34, *(len(label) + 2 for label in labels))
    named = max(42, *(len(f) for name in sets for f in results[labels[0]][name]))
    print(f"{'':{named + 2}}" + "".join(f"{label[-width:]:>{width}}" for label in labels))
    for name in sets:
        print(f"\n{name} ({sizes[name]} items)")
        for figure in results[labels[0]][name]:
            cells = "".join(f"{_cell(results[label][name].get(figure)):>{width}}" for label in labels)
            print(f"  {figure:{named}}{cells}")
    for label in labels:
        for problem in results[label].get("span problems", []):
            print(f"SPAN PROBLEM ({label}): {problem}")
    print("\nrun seconds: " + ", ".join(f"{label} {results[label]['seconds']:.0f}" for label in labels))


def _cell(value) -> str:
    if isinstance(value, float):
        return "nan" if value != value else f"{value:.3f}"
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
