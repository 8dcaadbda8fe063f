"""Benchmark: investor statements against a bare reportlab page with the same font.

Figures (all measured in this run, on this machine):
- bare page: pages/s of a one-page PDF with one line of text (a holder's name, different each
  time) in the embedded IPAexGothic, plain reportlab canvas, one process;
- investor statements: pages/s of ``investors.pdf.render`` on real statement data, one
  process; the ratio to the bare page (goal ≥ 0.8);
- two processes: pages/s of ``investors.batch.write_documents`` with 2 workers against 1
  (goal ≥ 1.6×);
- end to end: the time to build and write 20,000 investor statements (``SIB_BENCH_STATEMENTS``
  overrides the count) from a settled contract year, data included.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from sqlmodel import Session

from api.db import make_engine, upgrade
from bench.settlement_bench import C, _settle_year, _setup
from investors.batch import jobs_for_year, write_documents
from investors.fonts import font_path
from investors.pdf import render


def bare_pages_per_second(names: list[str]) -> float:
    """One A4 page, one line of Japanese text, the same font file (embedded subset)."""
    if "BenchIPAexGothic" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("BenchIPAexGothic", str(font_path())))
    started = time.perf_counter()
    for name in names:
        buffer = io.BytesIO()
        canvas = Canvas(buffer, pagesize=A4, invariant=1)
        canvas.setFont("BenchIPAexGothic", 10)
        canvas.drawString(72, 760, f"投資家報告書 {name} 様")
        canvas.showPage()
        canvas.save()
    return len(names) / (time.perf_counter() - started)


def _pages(data: bytes) -> int:
    return max(1, data.count(b"/Type /Page\n") + data.count(b"/Type /Page\r")
               + data.count(b"/Type /Page ") + data.count(b"/Type /Page>"))


def run() -> dict[str, Any]:
    count = int(os.environ.get("SIB_BENCH_STATEMENTS", "20000"))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        _setup(url, count)
        _settle_year(url)
        engine = make_engine(url)
        started = time.perf_counter()
        with Session(engine) as s:
            jobs = [j for j in jobs_for_year(s, C, 2020, ("ja",))
                    if j.document.kind == "investor_statement"]
        data_s = time.perf_counter() - started
        engine.dispose()
        sample = jobs[:min(len(jobs), 1000)]
        names = [j.document.holder.name.ja for j in sample]
        # In a process of its own: reportlab registers fonts globally, and the bare page's plain
        # TTFont must not meet the cached font the documents use.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            bare = pool.submit(bare_pages_per_second, names).result()
        started = time.perf_counter()
        pages = sum(_pages(render(j.document, j.lang)) for j in sample)
        single = pages / (time.perf_counter() - started)
        timings = {}
        for processes in (1, 2):
            started = time.perf_counter()
            write_documents(jobs, Path(tmp) / f"out{processes}", processes)
            timings[processes] = time.perf_counter() - started
    per_statement_pages = pages / len(sample)
    return {
        "statements": len(jobs), "pages_per_statement": round(per_statement_pages, 2),
        "bare_page_pages_per_s": round(bare, 1),
        "statement_pages_per_s_one_process": round(single, 1),
        "ratio_to_bare": round(single / bare, 2), "ratio_goal": 0.8,
        "build_data_s": round(data_s, 2),
        "write_1_process_s": round(timings[1], 2), "write_2_processes_s": round(timings[2], 2),
        "speedup_2_vs_1": round(timings[1] / timings[2], 2), "speedup_goal": 1.6,
        "total_20000_style_s": round(data_s + timings[2], 2),
    }


if __name__ == "__main__":
    import json
    print(json.dumps(run(), indent=2))
