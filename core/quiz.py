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
"""
from __future__ import annotations

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
    """Right only when exactly the correct options are chosen."""
    return frozenset(chosen) == question.answer


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
