import copy
import statistics
from collections import Counter

import pytest
import yaml

from core.quiz import (Question, QuizBankError, available_sections, first_option_rates, first_option_score, grade,
                       length_pick_rates, length_pick_scores_by_bank, load_bank, longest_option_score,
                       new_session_seed, option_order, parse_bank, shortest_option_score)

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


# ---------------------------------------------------------------- shuffled options
SEEDS = range(2000)
FOUR = Question("q", "Pick a", ("a", "b", "c", "d"), frozenset({0}), "It is a.")


def _demo_questions():
    return parse_bank(GOOD, "demo").questions


def test_option_order_is_a_stable_permutation_of_the_options():
    single, multi = _demo_questions()
    # Pinned: computed in another process, so the order survives a restart (str hash() would not).
    assert option_order(42, "demo", FOUR) == (2, 1, 3, 0)
    assert option_order(42, "demo", FOUR) == option_order(42, "demo", FOUR)
    for q in (single, multi, FOUR):
        assert sorted(option_order(7, "demo", q)) == list(range(len(q.options)))


def test_option_order_varies_with_the_session_and_the_question():
    orders = Counter(option_order(s, "demo", FOUR) for s in SEEDS)
    assert len(orders) == 24  # every permutation of 4 options turns up
    firsts = Counter(order[0] for order in orders.elements())
    assert all(0.2 < firsts[i] / len(SEEDS) < 0.3 for i in range(4))  # each option leads ~1/4 of sessions
    # Within one session, questions (and banks) are not all shuffled the same way.
    other = Question("r", FOUR.prompt, FOUR.options, FOUR.answer, FOUR.explanation)
    assert sum(option_order(s, "demo", FOUR) != option_order(s, "demo", other) for s in SEEDS) > 1800
    assert sum(option_order(s, "demo", FOUR) != option_order(s, "other", FOUR) for s in SEEDS) > 1800
    assert len({new_session_seed() for _ in range(20)}) == 20


def test_grading_follows_the_options_identity_not_their_position():
    single, multi = _demo_questions()
    outcomes = set()
    for seed in range(50):
        order = option_order(seed, "demo", single)
        shown = [single.options[i] for i in order]
        clicked = order[shown.index("4")]  # the learner clicks the text "4" wherever it is shown
        assert grade(single, {clicked})
        outcomes.add(grade(single, {order[0]}))  # the first shown option is right only sometimes
        m_order = option_order(seed, "demo", multi)
        ticked = {i for i in m_order if multi.options[i] in {"2", "4"}}
        assert grade(multi, ticked) and not grade(multi, {m_order[0]})
    assert outcomes == {True, False}


def _chance(question) -> float:
    """Odds that one random tick is exactly the answer: 1/n for one answer, 0 for choose-all."""
    return 0.0 if question.multiple else 1 / len(question.options)


@pytest.fixture(scope="module")
def always_first():
    return first_option_rates(sessions=len(SEEDS), seed=1)


def test_an_always_first_learner_scores_at_chance_on_every_question(always_first):
    questions = {(s, q.id): q for s in available_sections() for q in load_bank(s).questions}
    assert always_first.keys() == questions.keys()
    for key, rate in always_first.items():
        # 2,000 sessions: one standard deviation of a 1-in-4 rate is about 0.01.
        assert abs(rate - _chance(questions[key])) < 0.05, key
    expected = statistics.fmean(_chance(q) for q in questions.values())
    mean = statistics.fmean(always_first.values())
    assert abs(mean - expected) < 0.01
    assert mean < 0.3  # before shuffling, always-first scored 40 of 77 (0.52), 6/6 on four banks
    assert abs(first_option_score(sessions=200) - expected) < 0.03


@pytest.mark.parametrize("section", available_sections())
def test_no_bank_concentrates_its_answers_in_one_position(section):
    questions = load_bank(section).questions
    singles = Counter(next(iter(q.answer)) for q in questions if not q.multiple)
    assert len(questions) < 6 or max(singles.values()) <= len(questions) / 2, singles
    assert len(singles) >= 3, singles  # the answers use at least three of the four positions


def test_choose_all_questions_do_not_always_leave_the_same_position_wrong():
    wrong = [frozenset(range(len(q.options))) - q.answer
             for s in available_sections() for q in load_bank(s).questions if q.multiple]
    assert len(wrong) >= 2 and len(set(wrong)) > 1
    assert not frozenset.intersection(*wrong)  # no position is wrong in every one of them


# ---------------------------------------------------------------- length cues
def test_length_pick_rates_split_ties_and_leave_out_choose_all():
    raw = copy.deepcopy(GOOD)
    raw["questions"] = [
        {"id": "long", "prompt": "?", "options": ["a", "bbb", "cc"], "answer": 1, "explanation": "."},
        {"id": "tie", "prompt": "?", "options": ["xx", "yy", "z"], "answer": 0, "explanation": "."},
        {"id": "short", "prompt": "?", "options": ["a", "bb"], "answer": 0, "explanation": "."},
        GOOD["questions"][1],  # choose-all: one pick is never its answer, so it is not counted
    ]
    bank = parse_bank(raw, "demo")
    assert length_pick_rates(max, [bank]) == {("demo", "long"): 1.0, ("demo", "tie"): 0.5, ("demo", "short"): 0.0}
    assert length_pick_rates(min, [bank]) == {("demo", "long"): 0.0, ("demo", "tie"): 0.0, ("demo", "short"): 1.0}
    assert longest_option_score([bank]) == 0.5 and shortest_option_score([bank]) == pytest.approx(1 / 3)
    assert length_pick_scores_by_bank(max, [bank]) == {"demo": (0.5, 3)}


@pytest.mark.parametrize("pick", [max, min], ids=["longest", "shortest"])
def test_the_longest_or_shortest_option_does_not_give_the_answer_away(pick):
    singles = {(s, q.id) for s in available_sections() for q in load_bank(s).questions if not q.multiple}
    rates = length_pick_rates(pick)
    assert rates.keys() == singles
    # Chance is 1/4 on most questions. Before the distractors were rewritten, always picking the
    # longest option was right on 0.90 of the 71 single-answer questions (shortest: 0.02).
    score = longest_option_score() if pick is max else shortest_option_score()
    assert score == statistics.fmean(rates.values()) and score <= 0.35
    by_bank = length_pick_scores_by_bank(pick)
    assert by_bank.keys() == set(available_sections())
    for section, (bank_score, count) in by_bank.items():
        assert count < 5 or bank_score <= 0.5, (section, bank_score, count)
