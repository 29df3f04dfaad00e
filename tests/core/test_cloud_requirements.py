"""requirements-cloud.txt is requirements.txt with CPU-only torch: same packages, same pins otherwise."""
from tests.conftest import ROOT

CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"


def _pins(name: str) -> dict[str, str]:
    lines = [ln.strip() for ln in (ROOT / name).read_text().splitlines()]
    return dict(ln.split("==", 1) for ln in lines if ln and not ln.startswith(("#", "-")))


def test_the_cloud_copy_differs_only_in_torchs_build():
    plain, cloud = _pins("requirements.txt"), _pins("requirements-cloud.txt")
    assert cloud == {**plain, "torch": plain["torch"] + "+cpu", "torchvision": plain["torchvision"] + "+cpu"}
    assert CPU_INDEX in (ROOT / "requirements-cloud.txt").read_text().splitlines()
    assert "index-url" not in (ROOT / "requirements.txt").read_text()
