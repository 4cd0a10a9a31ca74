"""Model scores quoted in the docs come from the synthetic sample: each paragraph quoting one says so and keeps
the shuffled-label negative control beside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SCORE = re.compile(r"\b(AUC|F1|sensitivity|specificity|accuracy)\b[^|]{0,80}?\b0\.\d{2,}", re.IGNORECASE)


def paragraphs(path: Path) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", path.read_text()) if not p.lstrip().startswith("|")]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_quoted_scores_are_labelled_synthetic_sample_with_the_negative_control(path: Path) -> None:
    for text in paragraphs(path):
        if SCORE.search(text):
            flat = " ".join(text.split())
            assert "synthetic sample" in flat, (
                f"{path.name}: a score without 'synthetic sample': {flat[:200]}"
            )
            assert "shuffle" in flat, f"{path.name}: a score without the shuffled-label control: {flat[:200]}"


def test_the_readme_headline_is_checked() -> None:
    """The pattern finds the README's headline AUCs (so the test above is not vacuous)."""
    assert any(SCORE.search(t) for t in paragraphs(REPO / "README.md"))
