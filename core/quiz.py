"""Quiz banks as data (assets/quizzes/<section>.yaml): load, validate, grade.

A bank:
    section: foundations            # must match the file name
    title: CNN foundations
    questions:
      - id: locality                # unique within the bank
        prompt: ...
        options: [..., ...]         # 2-6 distinct answers
        answer: 1                   # index into options, or a list of indices (choose all that apply)
        explanation: ...            # shown after checking, right or wrong

Each session shows the options in its own seeded order (option_order), and answers are graded by
the options' original indices, so the position an answer is displayed at tells nothing.
"""
from __future__ import annotations

import random
import secrets
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from core.errors import CNNLabError

QUIZ_DIR = Path(__file__).resolve().parent.parent / "assets" / "quizzes"
_BANK_KEYS = {"section", "title", "questions"}
_QUESTION_KEYS = {"id", "prompt", "options", "answer", "explanation"}


class QuizBankError(CNNLabError):
    """A bank file that breaks the schema; the message lists every problem found."""


@dataclass(frozen=True)
class Question:
    id: str
    prompt: str
    options: tuple[str, ...]
    answer: frozenset[int]
    explanation: str

    @property
    def multiple(self) -> bool:
        return len(self.answer) > 1


@dataclass(frozen=True)
class Bank:
    section: str
    title: str
    questions: tuple[Question, ...]


def grade(question: Question, chosen: set[int] | frozenset[int]) -> bool:
    """Right only when exactly the correct options are chosen.

    `chosen` holds original option indices (the option's identity in the bank), never displayed
    positions: map a displayed position p through option_order(...)[p] first.
    """
    return frozenset(chosen) == question.answer


def new_session_seed() -> int:
    """A fresh random seed for one learner's session (kept by the caller for the whole session)."""
    return secrets.randbits(64)


def option_order(seed: int, section: str, question: Question) -> tuple[int, ...]:
    """The original option indices in the order this session displays them.

    Depends only on (seed, section, question id): a rerun of the same session shows the same order,
    another session (another seed) a different one. random.Random hashes a string seed with
    SHA-512, so unlike hash() the order is the same in every process.
    """
    order = list(range(len(question.options)))
    random.Random(f"{seed}/{section}/{question.id}").shuffle(order)
    return tuple(order)


def first_option_rates(sessions: int = 1000, seed: int = 0,
                       banks: Sequence[Bank] | None = None) -> dict[tuple[str, str], float]:
    """For each (section, question id): the share of simulated sessions in which a learner who
    always picks the first displayed option (and only that one) is right."""
    banks = [load_bank(s) for s in available_sections()] if banks is None else banks
    rng = random.Random(seed)
    session_seeds = [rng.getrandbits(64) for _ in range(sessions)]
    return {(bank.section, q.id): statistics.fmean(grade(q, {option_order(s, bank.section, q)[0]})
                                                   for s in session_seeds)
            for bank in banks for q in bank.questions}


def first_option_score(sessions: int = 1000, seed: int = 0) -> float:
    """Mean share of questions an always-first learner gets right, over all shipped banks and
    `sessions` simulated sessions. Chance is 1/len(options) per single-answer question and 0 per
    choose-all question (one tick is never the whole answer)."""
    return statistics.fmean(first_option_rates(sessions, seed).values())


def length_pick_rates(pick=max, banks: Sequence[Bank] | None = None) -> dict[tuple[str, str], float]:
    """For each single-answer question (section, question id): how often a learner who picks the
    option with the most characters (pick=max) or the fewest (pick=min) is right, a tie split evenly
    between the tied options. Choose-all questions are left out: one pick is never their answer.

    Shuffling cannot hide this cue, since the options' texts are the same in every session; only
    distractors written with the same care and length as the answer can.
    """
    banks = [load_bank(s) for s in available_sections()] if banks is None else banks
    rates = {}
    for bank in banks:
        for q in bank.questions:
            if q.multiple:
                continue
            lengths = [len(option) for option in q.options]
            tied = {i for i, n in enumerate(lengths) if n == pick(lengths)}
            rates[(bank.section, q.id)] = len(q.answer & tied) / len(tied)
    return rates


def length_pick_scores_by_bank(pick=max, banks: Sequence[Bank] | None = None) -> dict[str, tuple[float, int]]:
    """Per bank: (mean length_pick_rates over its single-answer questions, how many there are)."""
    per_bank: dict[str, list[float]] = {}
    for (section, _), rate in length_pick_rates(pick, banks).items():
        per_bank.setdefault(section, []).append(rate)
    return {section: (statistics.fmean(rates), len(rates)) for section, rates in per_bank.items()}


def longest_option_score(banks: Sequence[Bank] | None = None) -> float:
    """Share of single-answer questions an always-pick-the-longest learner gets right."""
    return statistics.fmean(length_pick_rates(max, banks).values())


def shortest_option_score(banks: Sequence[Bank] | None = None) -> float:
    """Share of single-answer questions an always-pick-the-shortest learner gets right."""
    return statistics.fmean(length_pick_rates(min, banks).values())


def _nonempty_str(value) -> bool:
    return isinstance(value, str) and value.strip() != ""


def parse_bank(raw, section: str) -> Bank:
    """Validate parsed YAML against the schema; raise QuizBankError listing all problems."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise QuizBankError(f"quiz bank {section!r}: the top level must be a mapping")
    if extra := set(raw) - _BANK_KEYS:
        problems.append(f"unknown top-level keys {sorted(extra)}")
    if raw.get("section") != section:
        problems.append(f"'section' is {raw.get('section')!r}, expected {section!r} (the file name)")
    if not _nonempty_str(raw.get("title")):
        problems.append("'title' must be a non-empty string")
    items = raw.get("questions")
    if not isinstance(items, list) or not items:
        problems.append("'questions' must be a non-empty list")
        items = []
    questions, seen = [], set()
    for n, q in enumerate(items, 1):
        where = f"question {n}"
        if not isinstance(q, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        if extra := set(q) - _QUESTION_KEYS:
            problems.append(f"{where}: unknown keys {sorted(extra)}")
        if missing := _QUESTION_KEYS - set(q):
            problems.append(f"{where}: missing keys {sorted(missing)}")
            continue
        if not _nonempty_str(q["id"]) or q["id"] in seen:
            problems.append(f"{where}: 'id' must be a unique non-empty string")
        seen.add(q["id"])
        for key in ("prompt", "explanation"):
            if not _nonempty_str(q[key]):
                problems.append(f"{where}: {key!r} must be a non-empty string")
        options = q["options"]
        if (not isinstance(options, list) or not 2 <= len(options) <= 6
                or not all(_nonempty_str(o) for o in options) or len(set(options)) != len(options)):
            problems.append(f"{where}: 'options' must be 2-6 distinct non-empty strings")
            continue
        answer = q["answer"]
        indices = answer if isinstance(answer, list) else [answer]
        if (not indices or not all(isinstance(i, int) and not isinstance(i, bool) for i in indices)
                or len(set(indices)) != len(indices) or not all(0 <= i < len(options) for i in indices)):
            problems.append(f"{where}: 'answer' must be an option index 0-{len(options) - 1} or a list of distinct ones")
            continue
        questions.append(Question(str(q["id"]), q["prompt"].strip(), tuple(options), frozenset(indices),
                                  q["explanation"].strip()))
    if problems:
        raise QuizBankError(f"quiz bank {section!r} is malformed:\n- " + "\n- ".join(problems))
    return Bank(section, raw["title"], tuple(questions))


def load_bank(section: str, directory: Path = QUIZ_DIR) -> Bank:
    path = directory / f"{section}.yaml"
    if not path.exists():
        raise QuizBankError(f"no quiz bank for section {section!r} at {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise QuizBankError(f"quiz bank {section!r} is not valid YAML: {exc}") from None
    return parse_bank(raw, section)


def available_sections(directory: Path = QUIZ_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))
