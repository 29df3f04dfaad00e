"""The data a page's plotly charts draw, as AppTest sees them."""
import base64
import json

import numpy as np


def _array(values) -> np.ndarray:
    """A trace's x or y: plotly's JSON holds numpy arrays as base64 ({"dtype", "bdata"})."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values, dtype=float)


def traces(at, kind: str = "scatter") -> list[list[dict]]:
    """Each plotly chart on the page (in order) as its list of `kind` traces, x and y as arrays; charts
    without such traces are left out."""
    charts = []
    for chart in at.get("plotly_chart"):
        found = [{**t, **{a: _array(t[a]) for a in ("x", "y") if a in t}}
                 for t in json.loads(chart.proto.spec)["data"] if t.get("type") == kind]
        if found:
            charts.append(found)
    return charts
