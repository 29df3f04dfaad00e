"""Model Explorer through AppTest: every architecture, links, search, what-if, latency, export."""
from functools import partial

import pytest

from core.profile import ARCHS
from tests.pages import apptest
from tests.pages.apptest import texts

PAGE = "pages/model_explorer.py"


open_page = partial(apptest.open_page, PAGE)


def test_default_is_resnet50_matching_torchvision():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    assert at.metric[0].value == "25,557,032"
    assert any("parameters match exactly; MACs differ by 0.00%" in m for m in texts(at.markdown))
    assert at.query_params["arch"] == "resnet50" and at.query_params["size"] == "224"


@pytest.mark.parametrize("key", list(ARCHS))
def test_every_architecture_renders_from_a_link(key):
    at = open_page(arch=key)
    assert not at.exception and not at.error
    assert at.selectbox(key="mx_arch").value == key
    assert at.metric[0].value == f"{int(at.metric[0].value.replace(',', '')):,}"


@pytest.mark.parametrize("query,message", [
    ({"arch": "alexnet"}, "`arch=alexnet` is not recognised"),
    ({"size": "13"}, "`size=13` is not recognised"),
    ({"arch": "vit_b_16", "size": "300"}, "`size=300` is not recognised"),
])
def test_bad_links_warn_and_fall_back(query, message):
    apptest.link_warns_and_falls_back(PAGE, query, message)


def test_resolution_change_rescales_cost_and_explains_reference():
    at = open_page(arch="resnet18", size="448")
    assert not at.exception
    assert at.metric[1].value == "7.255 G"
    assert any("published figures are for 224px" in c for c in texts(at.caption))


def test_too_small_input_is_an_error_message():
    at = open_page(arch="inception_v3", size="64")
    assert not at.exception
    assert any("smallest input it accepts is 75x75" in e for e in texts(at.error))
    assert at.subheader  # the quizzes still render


def test_layer_search_filters_rows():
    at = open_page(arch="vgg16")
    at.text_input(key="mx_search").input("Linear").run()
    assert not at.exception
    frames = [df.value for df in at.dataframe if "layer" in df.value.columns]  # the layer tables
    assert frames and all(set(f["type"]) == {"Linear"} for f in frames)
    assert sum(len(f) for f in frames) == 3
    at.text_input(key="mx_search").input("no-such-layer").run()
    assert "No layer matches 'no-such-layer'." in texts(at.info)


def test_what_if_separable_cuts_params_and_macs():
    at = open_page()
    at.toggle(key="mx_sep").set_value(True).run()
    assert not at.exception
    line = next(m for m in texts(at.markdown) if m.startswith("Parameters x"))
    ratio = float(line.split("Parameters x")[1].split(",")[0])
    assert ratio < 0.2


@pytest.mark.slow
def test_latency_and_exports_produce_real_files():
    at = open_page(arch="mobilenet_v3_small")
    at.button(key="mx_latency").click().run()
    assert not at.exception and at.metric[-1].value.endswith(" ms")
    at.button(key="mx_onnx").click().run()
    assert not at.exception and not at.error
    assert any("ONNX Runtime reproduces PyTorch's output" in c for c in texts(at.caption))
    at.button(key="mx_ts").click().run()
    assert not at.exception
    assert any("torch.jit.load" in c for c in texts(at.caption))


def test_export_of_a_huge_model_is_refused_with_a_message():
    at = open_page(arch="vgg16")
    at.button(key="mx_onnx").click().run()
    assert not at.exception
    assert any("138 M parameters" in e for e in texts(at.error))


def test_blocks_tab_follows_the_chosen_architecture():
    at = open_page()
    assert any(m.startswith("**ResNet: bottleneck") for m in texts(at.markdown))
    at.selectbox(key="mx_arch").set_value("vgg16").run()
    assert not at.exception
    assert "VGG16 belongs to the VGG family; its key block is shown first." in texts(at.caption)
    assert any(m.startswith("**VGG: a stack of 3x3 convs") for m in texts(at.markdown))
    assert not any(m.startswith("**ResNet:") for m in texts(at.markdown))


def test_a_model_without_a_block_diagram_says_so_and_offers_the_families():
    at = open_page(arch="vit_b_16")
    assert not at.exception
    assert any("ViT-B/16 (Vision Transformer) has no block diagram here" in i for i in texts(at.info))
    family = at.radio(key="mx_family_vit_b_16")
    assert family.value is None and "ConvNeXt" in family.options
    family.set_value("ConvNeXt").run()
    assert any(m.startswith("**ConvNeXt:") for m in texts(at.markdown))


def test_each_button_keeps_its_result_for_its_model_and_size():
    at = open_page(arch="shapesnet")
    at.button(key="mx_latency").click().run()
    at.button(key="mx_ts").click().run()  # another button: the latency stays
    assert not at.exception
    assert [m.label for m in at.metric if m.label.endswith("px")] == ["ShapesNet (shipped) at 64px"]
    assert any("torch.jit.load" in c for c in texts(at.caption))
    at.select_slider(key="mx_size_shapesnet").set_value(96).run()  # other inputs: those results do not apply
    assert not any(m.label.endswith("px") for m in at.metric)
    assert not any("torch.jit.load" in c for c in texts(at.caption))
    at.select_slider(key="mx_size_shapesnet").set_value(64).run()
    assert any(m.label == "ShapesNet (shipped) at 64px" for m in at.metric)


def test_a_refused_export_stays_explained_after_another_button():
    at = open_page(arch="vgg16")
    at.button(key="mx_onnx").click().run()
    at.button(key="mx_ts").click().run()
    assert not at.exception
    assert len([e for e in texts(at.error) if "138 M parameters" in e]) == 2  # ONNX's refusal, then TorchScript's
