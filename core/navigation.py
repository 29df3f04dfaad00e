"""The app's page list as data: Home.py builds st.navigation from it, tests visit every entry.

Each later page adds one PageSpec here. Sections follow the course's numbering.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class PageSpec:
    section: str
    title: str
    icon: str
    script: str | None  # path from the repo root; None = the home page, defined in Home.py

    @property
    def url_path(self) -> str:
        """The page's URL: its file name. Streamlit also auto-registers pages/*.py by file name before
        st.navigation runs; any other url_path makes a direct link open with a "Page not found" dialog."""
        return "" if self.script is None else PurePosixPath(self.script).stem


PAGES: tuple[PageSpec, ...] = (
    PageSpec("1 · Foundations", "CNN vision", ":material/visibility:", None),
    PageSpec("2 · Convolutional layers", "Convolution Playground", ":material/grid_on:", "pages/convolution.py"),
    PageSpec("3 · Pooling & activations", "Activation Lab", ":material/show_chart:", "pages/activations.py"),
    PageSpec("4 · Deep architectures", "Model Explorer", ":material/account_tree:", "pages/model_explorer.py"),
    PageSpec("5 · Training", "Training Monitor", ":material/model_training:", "pages/training.py"),
    PageSpec("6 · Interpretability", "Grad-CAM & interpretability", ":material/center_focus_strong:",
             "pages/interpretability.py"),
    PageSpec("7 · Transfer learning", "Transfer Learning", ":material/swap_horiz:", "pages/transfer.py"),
    PageSpec("8 · Specialized CNNs", "1D, temporal & transposed convs", ":material/timeline:",
             "pages/specialized.py"),
    PageSpec("8 · Specialized CNNs", "3D MRI Viewer", ":material/neurology:", "pages/mri_viewer.py"),
    PageSpec("9 · CNNs in the wild", "CNNs in the wild", ":material/public:", "pages/wild.py"),
    PageSpec("10 · Research frontiers", "Research frontiers", ":material/science:", "pages/frontiers.py"),
    PageSpec("11 · Ecosystem & tools", "Ecosystem & tools", ":material/construction:", "pages/ecosystem.py"),
)


def sections() -> dict[str, list[PageSpec]]:
    """Pages grouped by course section, in course order."""
    grouped: dict[str, list[PageSpec]] = {}
    for page in PAGES:
        grouped.setdefault(page.section, []).append(page)
    return grouped
