from core.navigation import PAGES, sections
from tests.conftest import ROOT


def test_every_page_script_exists_and_paths_are_unique():
    assert sum(p.script is None for p in PAGES) == 1  # exactly one home page
    for page in PAGES:
        assert page.script is None or (ROOT / page.script).is_file()
    paths = [p.url_path for p in PAGES]
    assert len(set(paths)) == len(paths)


def test_sections_keep_course_order():
    names = list(sections())
    assert names == sorted(names, key=lambda s: int(s.split(" ")[0]))
