"""How likely a sentence is to answer a question: a logistic model over the signals rag computes.

Every candidate sentence of a question carries the retrieval signals (``rag.search.retrieval``: dense
and BM25-style coverage at sentence and passage level, adjacent word pairs, a number for a
"how many") and what it holds of the question's focus (the IDF-weighted share of its terms,
whether it holds the kind of answer asked). The model turns them into the probability that the
sentence answers; it ranks the candidates, and the best one's probability is the answer's
confidence, compared with the threshold. In a conversation, a sentence of a document the
previous answer cited ranks higher by a fitted weight, and a sentence an earlier answer already
cited ranks lower by another (a conversation moves on: a follow-up seldom asks again for what it
was given); its confidence stays its own, so history never lifts an unanswerable question over
the threshold, and a sentence cited before is still reachable when it is the best there is.

The weights are not set by hand: ``benchmarks/fit_ask.py`` fits them, seeded and
cross-validated by document, on the public halves of real question sets (SQuAD 2.0 with its
crowd-written unanswerable questions, WikiQA's search questions, INSCIT's conversations, plus
off-topic questions), and writes ``FITTED`` below. Edit that script, not these numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

# The inputs of the logistic model, in the order of its weights. Each lies in 0..1.
FEATURES = (
    "dense",  # cosine between the question and the sentence
    "dense_passage",  # cosine to the sentence's passage
    "lexical",  # IDF-weighted share of the question's terms in the sentence
    "lexical_passage",  # the same share in its passage
    "phrase",  # share of the question's adjacent word pairs adjacent in the sentence
    "number",  # a "when / how many" question meets a number the question does not state
    "coverage",  # share of the question's focus (terms and answer kind) the sentence holds
    "type_met",  # the question asks for a kind of answer (a date, a number, a name...) and it is there
    "type_missed",  # it asks for one and it is not there
    "title",  # IDF-weighted share of the question's terms in the title of the sentence's document
    "lead",  # the sentence opens its document (news and encyclopaedias state the gist first)
    "length",  # the sentence's length in tokens, over 40 (at most 1): a fragment seldom answers
)

# Written by `python benchmarks/fit_ask.py --write` (see its output for the cross-validated figures):
# the model's bias and weights; the calibration (a, b) of its log-odds z into the chance that the
# best sentence answers, sigmoid(a * z + b); the threshold on that chance below which rag abstains; the
# weight added, for ranking only, to a sentence of a document the conversation's latest answer cited;
# the weight added, for ranking only, to a sentence an earlier answer cited (in full for the latest
# answer, times the decay for each answer further back); the margin by which a follow-up's
# rewrite must beat the question as asked to be searched instead; and the log-odds the best sentence's
# confidence loses when it states otherwise what the question takes for granted, times the share of
# the question's terms it holds (``conflict``, see ``probability``).
# fmt: off
FITTED = {
    "bias": -7.1186,
    "weights": {
        "dense": 1.4203, "dense_passage": 3.2963, "lexical": 2.2055, "lexical_passage": 0.4906,
        "phrase": 0.5718, "number": 0.0594, "coverage": 1.1393, "type_met": -0.0946,
        "type_missed": -0.9796, "title": 1.3437, "lead": 0.5020, "length": -0.3124,
    },
    "calibration": [0.5093, 0.2365],
    "threshold": 0.1800,
    "conversation": 0.50,
    "cited": -2.00,
    "cited_decay": 1.00,
    "rewrite_margin": 0.00,
    "conflict": 3.50,
}
# fmt: on


def logit(signals: Mapping[str, float], fitted: Mapping = FITTED) -> float:
    """The model's raw log-odds for a sentence with these ``signals`` (missing ones count 0)."""
    weights = fitted["weights"]
    return fitted["bias"] + sum(weights[name] * float(signals.get(name, 0.0)) for name in FEATURES)


def probability(signals: Mapping[str, float], fitted: Mapping = FITTED) -> float:
    """The chance that a sentence with these ``signals``, cited first, answers the question.

    The logistic model is fitted over every candidate of a question, so its own output is a share
    of candidates; the fitted calibration turns the log-odds into the chance for the best one.
    A best sentence that states otherwise what the question takes for granted
    (``rag.answer.claims.question_conflicts``: SQuAD 2.0's unanswerable questions are answerable ones
    edited) loses the fitted ``conflict`` log-odds times ``signals["conflict"]``, the share of the
    question's terms it holds. It is not a weight of the model: it lowers the confidence, never the
    ranking (as a weight it ranked worse out of fold, benchmarks/fit_ask.py).
    """
    penalty = fitted.get("conflict", 0.0) * float(signals.get("conflict", 0.0))
    return _calibrated(logit(signals, fitted) - penalty, fitted)


def ranking(
    signals: Mapping[str, float], previous_document: bool, fitted: Mapping = FITTED, cited_ago: int | None = None
) -> float:
    """What orders a question's candidates: the probability, a sentence of a document the
    conversation's latest answer cited counted up by the fitted conversation weight, and a sentence
    an earlier answer cited ``cited_ago`` answers back (1: the latest) by the fitted ``cited`` weight,
    decayed by ``cited_decay`` for each answer further back (benchmarks/fit_ask.py, INSCIT follow-ups)."""
    z = logit(signals, fitted) + (fitted["conversation"] if previous_document else 0.0)
    if cited_ago is not None:
        z += fitted["cited"] * fitted["cited_decay"] ** (cited_ago - 1)
    return _calibrated(z, fitted)


def _calibrated(z: float, fitted: Mapping) -> float:
    a, b = fitted["calibration"]
    z = a * z + b
    return 1.0 / (1.0 + math.exp(-z)) if z > -60 else 0.0
