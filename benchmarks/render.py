"""Benchmark of the reply documents' PDF rendering: Typst (the renderer, services/reply/documents)
against WeasyPrint (the previous one, measured only when it is installed), on the same documents.

    PYTHONPATH=. .local/venv/bin/python benchmarks/render.py [documents] [--weasyprint-documents N]

The documents are the sample of every kind (tests/reply/document_samples.py: 8 procedural, 23 outcome
replies, the 8-department consolidated reply) cycled, each with its own case number, applicant and
request text (so that no document is a cache hit of the one before). Fonts are loaded once per
process (the first render, reported as "cold"); then each engine renders the same HTML. Prints wall
ms/document (mean, median, p95), CPU seconds in all and CPU ms/document, and the same for the
consolidated reply alone. One process, one thread: ms/document is the cost on one core.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from services.reply import CONSOLIDATED, render_html, render_pdf
from tests.reply import document_samples as s

_HAN = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面"
        "而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本")


def documents(n: int) -> list[tuple[str, str]]:
    rnd = random.Random(9704)
    samples = s.all_samples()
    kinds = sorted(samples)
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        ctx = dict(samples[kind])
        ctx["case_number"] = f"GK-20260408-{i:05d}"
        ctx["request_summary"] = "".join(rnd.choice(_HAN) for _ in range(rnd.randrange(20, 60)))
        if "applicant_name" in ctx:
            ctx["applicant_name"] = "".join(rnd.choice(_HAN) for _ in range(3))
        out.append((kind, render_html(kind, ctx)))
    return out


def measure(name: str, render: Callable[[str], bytes], docs: list[tuple[str, str]]) -> None:
    c0, t0 = time.process_time(), time.perf_counter()
    render(docs[0][1])
    cold = time.perf_counter() - t0, time.process_time() - c0
    walls, cpus, kinds = [], [], []
    for kind, html in docs:
        c, t = time.process_time(), time.perf_counter()
        pdf = render(html)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
        kinds.append(kind)
        assert pdf.startswith(b"%PDF-")
    walls_ms = sorted(w * 1000 for w in walls)
    cons = [c * 1000 for c, k in zip(cpus, kinds, strict=True) if k == CONSOLIDATED]
    print(f"{name}: cold first render {cold[0] * 1000:.0f} ms wall ({cold[1]:.2f} CPU s), then {len(docs)} documents:")
    print(f"  wall ms/document: mean {statistics.mean(walls_ms):.1f}, median {statistics.median(walls_ms):.1f}, "
          f"p95 {walls_ms[int(len(walls_ms) * 0.95) - 1]:.1f}")
    print(f"  CPU: {sum(cpus):.2f} s in all, {sum(cpus) / len(cpus) * 1000:.1f} ms/document"
          + (f"; consolidated 8-department reply {statistics.mean(cons):.1f} ms" if cons else ""))


def weasyprint_pdf(html: str) -> bytes:
    import weasyprint

    return weasyprint.HTML(string=html).write_pdf()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("documents", nargs="?", type=int, default=320)
    ap.add_argument("--weasyprint-documents", type=int, default=64)
    args = ap.parse_args()
    docs = documents(args.documents)
    measure("typst", render_pdf, docs)
    try:
        import weasyprint  # noqa: F401
    except ImportError:
        print("weasyprint: not installed (removed from requirements.lock; measured on 2026-12-02: "
              "~130 ms/document with WenQuanYi Micro Hei, ~280-400 ms with Noto CJK)")
        return
    measure("weasyprint", weasyprint_pdf, docs[: args.weasyprint_documents])


if __name__ == "__main__":
    main()
