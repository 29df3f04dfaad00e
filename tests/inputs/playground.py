"""Convolution Playground views as URL query parameters (the link a workshop host would share).

Each entry: (id, query params, what the page must show). The page test sweeps them all.
"""
VIEWS = [
    ("default", {}, "nn.Conv2d(3, 1, kernel_size=3, stride=1, padding=1, dilation=1, bias=False)"),
    ("blur-per-channel", {"kernel": "box blur", "channels": "per channel"},
     "nn.Conv2d(3, 3, kernel_size=3, stride=1, padding=1, dilation=1, groups=3, bias=False)"),
    ("grey-valid-stride2", {"kernel": "Laplacian", "channels": "grey", "padding": "valid", "stride": "2"},
     "nn.Conv2d(1, 1, kernel_size=3, stride=2, padding=0, dilation=1, bias=False)"),
    ("7x7-dilated-reflect", {"size": "7", "dilation": "3", "border": "reflect", "kernel": "outline"},
     "nn.Conv2d(3, 1, kernel_size=7, stride=1, padding=9, dilation=3, padding_mode='reflect', bias=False)"),
    ("explicit-replicate", {"padding": "explicit", "pad": "5", "border": "replicate", "stride": "4"},
     "nn.Conv2d(3, 1, kernel_size=3, stride=4, padding=5, dilation=1, padding_mode='replicate', bias=False)"),
    ("custom-kernel", {"k": "0,0,0,0,2,0,0,0,0"},
     "nn.Conv2d(3, 1, kernel_size=3, stride=1, padding=1, dilation=1, bias=False)"),
]

# (id, query params, warning text expected; the page falls back and keeps working)
BAD_QUERIES = [
    ("stride-too-big", {"stride": "99"}, "`stride` must be a whole number from 1 to 4"),
    ("stride-text", {"stride": "fast"}, "`stride` must be a whole number from 1 to 4"),
    ("unknown-kernel", {"kernel": "rm -rf /"}, "`kernel=rm -rf /` is not recognised"),
    ("unknown-border", {"border": "wrap"}, "`border=wrap` is not recognised"),
    ("kernel-wrong-count", {"k": "1,2,3"}, "needs 9, 25 or 49"),
    ("kernel-nan", {"k": ",".join(["nan"] * 9)}, "NaN"),
    ("kernel-huge", {"k": ",".join(["1e30"] * 9)}, "between"),
    ("size-4", {"size": "4"}, "`size=4` is not recognised"),
]
