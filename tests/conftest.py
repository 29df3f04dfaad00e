"""Test-wide settings: nothing downloads, and the torch hub cache starts empty."""
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Set before any project import: core.data / core.models read them at call time.
os.environ["CNNLAB_OFFLINE"] = "1"
os.environ["TORCH_HOME"] = tempfile.mkdtemp(prefix="cnnlab-torch-home-")
os.environ.setdefault("CNNLAB_DATA_DIR", tempfile.mkdtemp(prefix="cnnlab-data-"))
os.environ["CNNLAB_RUNS_DIR"] = tempfile.mkdtemp(prefix="cnnlab-runs-")
