"""Measures rendering of the consolidated 8-department reply: HTML, PDF, size.

    PYTHONPATH=. .local/venv/bin/python -m tests.documents.measure_render [runs]

Prints the first (cold: imports, fontconfig, font loading) render and the median of `runs` (10)
warm renders, each measured separately for render_html and render_pdf.
"""

from __future__ import annotations

import statistics
import sys
import time

from services.reply.documents import CONSOLIDATED, render_html, render_pdf
from tests.documents import samples as s


def main(runs: int = 10) -> None:
    ctx = s.consolidated()
    t0 = time.perf_counter()
    pdf = render_pdf(render_html(CONSOLIDATED, ctx))
    cold = time.perf_counter() - t0
    html_times, pdf_times = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        html = render_html(CONSOLIDATED, ctx)
        t1 = time.perf_counter()
        pdf = render_pdf(html)
        t2 = time.perf_counter()
        html_times.append(t1 - t0)
        pdf_times.append(t2 - t1)
    total = [a + b for a, b in zip(html_times, pdf_times, strict=True)]
    print(f"departments: {len(ctx['departments'])}")
    print(f"cold first render (html+pdf): {cold * 1000:.0f} ms")
    print(f"render_html median of {runs}: {statistics.median(html_times) * 1000:.1f} ms")
    print(f"render_pdf  median of {runs}: {statistics.median(pdf_times) * 1000:.1f} ms "
          f"(min {min(pdf_times) * 1000:.1f}, max {max(pdf_times) * 1000:.1f})")
    print(f"html+pdf    median of {runs}: {statistics.median(total) * 1000:.1f} ms")
    print(f"html size: {len(html.encode())} bytes; pdf size: {len(pdf)} bytes ({len(pdf) / 1024:.1f} KiB)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
