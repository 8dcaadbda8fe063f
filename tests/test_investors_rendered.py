"""A lender statement looked at as a person would: rendered to an image, its Japanese title
is real glyphs — compared with the same words drawn independently from the font file — not
blanks and not .notdef boxes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from contracts.store import load_contract
from contracts.validate import load_contract_file
from investors import documents
from investors.fonts import font_path
from investors.formatting import label
from investors.pdf import render
from settlement.payments import draw_loans

pdfium = pytest.importorskip("pypdfium2")
np = pytest.importorskip("numpy")
PIL_Image = pytest.importorskip("PIL.Image")
from PIL import ImageDraw, ImageFont  # noqa: E402

FIVE = (Path(__file__).resolve().parent.parent
        / "contracts/examples/sib-2019-five-municipalities.yaml")
SCALE = 3  # 216 dpi
TITLE_PT, MARGIN_PT, TITLE_TOP_PT = 16, 40, 48


def _ink_box(gray: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(gray < 128)
    assert len(xs), "no ink at all: the text did not render"
    return gray[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def _resized(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    picture = PIL_Image.fromarray(image.astype("uint8"))
    return np.asarray(picture.resize((shape[1], shape[0])), dtype=float)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


@pytest.fixture
def lender_pdf(session) -> bytes:
    contract, problems = load_contract_file(FIVE)
    assert problems == []
    load_contract(session, contract)
    draw_loans(session, contract.id, date(2020, 3, 31))
    session.commit()
    ctx = documents.context(session, contract.id, 2019)
    return render(documents.lender_statement(session, ctx, "yamaguchi-bank"), "ja")


def test_the_japanese_title_renders_as_its_glyphs(lender_pdf):
    title = label("lender_statement", "ja")
    assert any("\u3040" <= ch <= "\u9fff" for ch in title)
    document = pdfium.PdfDocument(lender_pdf)
    page = document[0]
    image = np.asarray(page.render(scale=SCALE, grayscale=True).to_pil().convert("L"),
                       dtype=float)
    page.close()
    document.close()
    top = TITLE_TOP_PT * SCALE
    row = image[top - TITLE_PT * SCALE // 2: top + TITLE_PT * SCALE * 3 // 2,
                MARGIN_PT * SCALE - 10: MARGIN_PT * SCALE + TITLE_PT * SCALE * (len(title) + 2)]
    rendered = _ink_box(row)
    font = ImageFont.truetype(str(font_path()), TITLE_PT * SCALE)
    canvas = PIL_Image.new("L", (TITLE_PT * SCALE * (len(title) + 2), TITLE_PT * SCALE * 2),
                           255)
    ImageDraw.Draw(canvas).text((10, 10), title, font=font, fill=0)
    expected = _ink_box(np.asarray(canvas, dtype=float))
    assert abs(rendered.shape[1] / expected.shape[1] - 1) < 0.1  # same width: same glyphs
    assert _correlation(rendered, _resized(expected, rendered.shape)) > 0.7
    # a row of .notdef boxes drawn in the same space does not pass the same test
    boxes = PIL_Image.new("L", (rendered.shape[1], rendered.shape[0]), 255)
    width = rendered.shape[1] / len(title)
    for i in range(len(title)):
        ImageDraw.Draw(boxes).rectangle((i * width + 2, 0, (i + 1) * width - 3,
                                         rendered.shape[0] - 1), outline=0, width=3)
    assert _correlation(rendered, np.asarray(boxes, dtype=float)) < 0.4
