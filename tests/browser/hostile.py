"""A corpus of hostile HTML mail: each entry tries to run script, open a dialog, reach
`remote` (a loopback server that counts requests), submit a form or leave the sandboxed
frame. tests/browser/test_webmail.py sends each as a message and reads it in Chromium.
"""

from __future__ import annotations


def hostile(remote: str) -> list[str]:
    """HTML that tries to run, to reach `remote`, or to leave the frame."""
    return [
        "<script>alert('script')</script>",
        "<img src=x onerror=\"alert('onerror')\">",
        f"<img src='{remote}/pixel.png'>",
        f"<div style=\"background:url('{remote}/bg.png')\">bg</div>",
        f"<style>@import url('{remote}/import.css');"
        f" body {{ background: url({remote}/b) }}</style>",
        "<svg><animate onbegin=\"alert('svg')\" attributeName=x dur=1s></animate></svg>",
        "<a href=\"javascript:alert('js')\">click</a>",
        f'<meta http-equiv=refresh content="0;url={remote}/refresh">',
        f"<base href='{remote}/'><img src='base.png'>",
        f"<form action='{remote}/form' method=post><button>go</button></form>",
        f"<iframe src='{remote}/frame'></iframe>",
        "<iframe srcdoc=\"<script>parent.alert('srcdoc')</script>\"></iframe>",
        f"<link rel=stylesheet href='{remote}/link.css'>",
        f"<object data='{remote}/object'></object><embed src='{remote}/embed'>",
        f"<video poster='{remote}/poster'><source src='{remote}/video'></video>",
        f'<p style="color:var(--x,url({remote}/var))">var</p>',
        "<img src=\"data:image/svg+xml,<svg onload=alert('dataurl')>\">",
        f"<body background='{remote}/body.png' onload=\"alert('body')\">b</body>",
    ]
