"""Lesson test: what the Ecosystem & tools page claims before anyone touches it."""
import torch

from core import transforms
from core.images import sample_photo
from core.models import load_model
from tests.core.test_tracing import _hooked_outputs
from tests.pages.apptest import captions, open_page, texts

PAGE = "pages/ecosystem.py"


def test_default_view_teaches_what_its_text_says():
    at = open_page(PAGE)
    assert not at.exception and not at.error and not at.warning
    page = texts(at.markdown)
    # 1. The pipeline: six stages, offline on synthetic shapes (no CIFAR-10 here), nothing run yet.
    wait = ":material/schedule:"
    assert "Stages: " + " → ".join(f"{wait} {s}" for s in ("Data", "Model", "Training", "Grad-CAM", "Logging",
                                                          "Export")) in page
    assert at.selectbox(key="eco_ds").value == "Synthetic shapes"
    at.session_state["eco_code_open"] = True  # a learner opens "The code behind this view"
    at.run()
    code = next(e for e in at.expander if e.label.startswith("The code behind")).code[0].value
    assert "named_dataset('Synthetic shapes', 4000)" in code and "mode='offline'" in code
    assert "cv2.addWeighted(original, 0.6, heatmap, 0.4, 0)" in code and "torch.onnx.export(" in code
    # 2a. The transforms: the Compose line is the pipeline whose steps are drawn, at the sizes stated.
    s = transforms.TransformSettings()
    compose = next(c.value for c in at.code if c.value.startswith("v2.Compose(["))
    assert compose == transforms.compose_line(s)
    photo = transforms.working_photo(sample_photo("Astronaut"))  # 256 x 256
    shown = [c for c in captions(at) if ": 3 x " in c]
    assert shown[:3] == ["ToDtype: 3 x 256 x 256", "Resize: 3 x 160 x 160", "RandomResizedCrop: 3 x 128 x 128"]
    assert len(shown) == len(transforms.steps_on(photo, s))
    # 2b. TorchLens on SimpleCNN: 9 operations, module hooks see 6 (counted here with real hooks), and
    # the 3 they miss are the functional ReLUs and the flatten.
    claim = next(m for m in page if m.startswith("TorchLens recorded"))
    simple = load_model("simplecnn_shapes")
    hooked = _hooked_outputs(simple.model, torch.randn(1, 3, 32, 32))
    assert "**9 operations**" in claim and f"would see {hooked} of them" in claim and hooked == 6
    assert "the other **3**" in claim and claim.endswith("flatten, relu.")
    # The section quiz.
    assert "Section 11 · Ecosystem & tools" in texts(at.subheader)
