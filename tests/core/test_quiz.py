import copy

import pytest
import yaml

from core.quiz import QuizBankError, available_sections, grade, load_bank, parse_bank

GOOD = {
    "section": "demo",
    "title": "Demo",
    "questions": [
        {"id": "a", "prompt": "2+2?", "options": ["3", "4"], "answer": 1, "explanation": "Arithmetic."},
        {"id": "b", "prompt": "Pick evens", "options": ["1", "2", "4"], "answer": [1, 2], "explanation": "Even."},
    ],
}


@pytest.mark.parametrize("section", available_sections())
def test_every_shipped_bank_is_valid(section):
    bank = load_bank(section)
    assert len(bank.questions) >= 5
    assert all(q.explanation and len(q.options) >= 2 for q in bank.questions)


def test_foundations_bank_exists():
    assert "foundations" in available_sections()


def test_grading_needs_exactly_the_right_set():
    bank = parse_bank(GOOD, "demo")
    single, multi = bank.questions
    assert grade(single, {1}) and not grade(single, {0}) and not grade(single, {0, 1})
    assert multi.multiple and grade(multi, {1, 2}) and not grade(multi, {1})


def _broken(path, value):
    raw = copy.deepcopy(GOOD)
    target = raw
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return raw


MALFORMED = [
    (("section",), "other", "expected 'demo'"),
    (("title",), "", "'title'"),
    (("questions",), [], "non-empty list"),
    (("questions", 0, "answer"), 5, "'answer'"),
    (("questions", 0, "answer"), True, "'answer'"),
    (("questions", 1, "answer"), [1, 1], "'answer'"),
    (("questions", 0, "answer"), KeyError, "missing keys ['answer']"),
    (("questions", 0, "options"), ["only one"], "'options'"),
    (("questions", 0, "options"), ["same", "same"], "'options'"),
    (("questions", 0, "explanation"), "  ", "'explanation'"),
    (("questions", 1, "id"), "a", "unique"),
    (("questions", 0, "hint"), "extra", "unknown keys ['hint']"),
    (("questions", 0), "just a string", "must be a mapping"),
]


@pytest.mark.parametrize("path,value,message", MALFORMED)
def test_malformed_banks_are_rejected_with_the_reason(path, value, message):
    with pytest.raises(QuizBankError) as err:
        parse_bank(_broken(path, value), "demo")
    assert message in str(err.value)


def test_invalid_yaml_and_missing_file(tmp_path):
    (tmp_path / "bad.yaml").write_text("section: [unclosed\n")
    with pytest.raises(QuizBankError, match="not valid YAML"):
        load_bank("bad", tmp_path)
    with pytest.raises(QuizBankError, match="no quiz bank"):
        load_bank("missing", tmp_path)
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(GOOD))
    assert load_bank("demo", tmp_path).title == "Demo"
