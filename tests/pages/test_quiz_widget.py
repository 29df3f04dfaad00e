"""The quiz block (core.ui.quiz) on Home through AppTest: shuffled per session, graded by identity."""
from streamlit.testing.v1 import AppTest

from core.quiz import load_bank, option_order
from tests.pages.apptest import open_page, texts

BANK = load_bank("foundations")


def _shown(at: AppTest, question) -> list[str]:
    """The question's options in the order this session displays them."""
    if question.multiple:
        prefix = f"quiz_foundations_{question.id}_"
        return [box.label for box in at.checkbox if str(box.key).startswith(prefix)]
    return at.radio(key=f"quiz_foundations_{question.id}").options


def _check(at: AppTest, widget) -> AppTest:
    """Press the Check button of the form the widget sits in."""
    (button,) = [b for b in at.button if b.form_id == widget.form_id]
    return button.click().run()


def test_options_follow_the_session_seed_and_stay_put_across_reruns():
    at = open_page()
    seed = at.session_state["quiz_seed"]
    for q in BANK.questions:
        assert _shown(at, q) == [q.options[i] for i in option_order(seed, "foundations", q)]
    before = {q.id: _shown(at, q) for q in BANK.questions}
    at.run()
    assert at.session_state["quiz_seed"] == seed
    assert {q.id: _shown(at, q) for q in BANK.questions} == before


def test_answers_are_graded_by_identity_and_kept_across_reruns():
    at = open_page()
    q = next(q for q in BANK.questions if not q.multiple)
    (answer,) = q.answer
    radio = at.radio(key=f"quiz_foundations_{q.id}")
    # Wherever this session shows it, choosing the right option's text is right.
    shown_at = option_order(at.session_state["quiz_seed"], "foundations", q).index(answer)
    assert radio.options[shown_at] == q.options[answer]
    at = _check(at, radio.set_value(answer))
    assert not at.exception
    assert "Correct." in texts(at.success)
    assert at.radio(key=f"quiz_foundations_{q.id}").value == answer  # still chosen after the rerun
    # A wrong option, also picked by identity, is marked wrong and the explanation shows either way.
    wrong = next(i for i in range(len(q.options)) if i != answer)
    at = _check(at, at.radio(key=f"quiz_foundations_{q.id}").set_value(wrong))
    assert "Not quite." in texts(at.error)
    assert any(q.explanation in m.value for m in at.markdown)


def test_choose_all_questions_are_shuffled_and_graded_by_identity():
    at = open_page()
    q = next(q for q in BANK.questions if q.multiple)
    boxes = [at.checkbox(key=f"quiz_foundations_{q.id}_{i}") for i in q.answer]
    for box in boxes:
        box.check()
    at = _check(at, boxes[0])
    assert not at.exception
    assert "Correct." in texts(at.success)


def test_two_sessions_see_different_orders():
    first, second = open_page(), open_page()
    assert first.session_state["quiz_seed"] != second.session_state["quiz_seed"]
    assert any(_shown(first, q) != _shown(second, q) for q in BANK.questions)
    assert all(sorted(_shown(first, q)) == sorted(q.options) for q in BANK.questions)
