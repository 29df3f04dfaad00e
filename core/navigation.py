"""The app's page list as data: Home.py builds st.navigation from it, tests visit every entry.

Each later page adds one PageSpec here. Sections follow the course's numbering.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    section: str
    title: str
    icon: str
    script: str | None  # path from the repo root; None = the home page, defined in Home.py
    url_path: str  # "" for the home page


PAGES: tuple[PageSpec, ...] = (
    PageSpec("1 · Foundations", "CNN vision", ":material/visibility:", None, ""),
)


def sections() -> dict[str, list[PageSpec]]:
    """Pages grouped by course section, in course order."""
    grouped: dict[str, list[PageSpec]] = {}
    for page in PAGES:
        grouped.setdefault(page.section, []).append(page)
    return grouped
