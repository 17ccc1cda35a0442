"""Makes tests/files/field_report.pdf: six pages of about 250 words, each with one fact found
nowhere else, so that a citation's page can be checked (`python -m tests.make_field_report`)."""

from __future__ import annotations

from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

OUT = Path(__file__).parent / "files" / "field_report.pdf"

TOPICS = [
    ("The lighthouse", "The lighthouse keeper counted forty-two ships entering the bay on Monday."),
    ("The harbour kitchen", "The secret ingredient of the harbour stew is smoked paprika."),
    ("The old bridge", "The stone bridge across the river was opened in 1957 by the mayor."),
    ("The fish market", "The fish market opens at four o'clock every morning except Sunday."),
    ("The sailing school", "The sailing school trains ninety pupils each summer on six dinghies."),
    ("The weather station", "The weather station recorded a record gust of 160 km/h in January."),
]

FILLER = [
    "Residents describe the place as calm in winter and crowded in summer.",
    "Visitors often ask the staff for directions to the nearest cafe.",
    "A small committee meets once a month to discuss repairs and budgets.",
    "The records of earlier years are kept in the town archive.",
    "Local volunteers help with cleaning the paths after storms.",
    "Several families have lived in the district for four generations.",
    "The council plans to publish a longer survey next spring.",
    "Photographs from the last century show how little has changed.",
    "Children from the primary school visit during their summer term.",
    "Maintenance work is scheduled for the quiet weeks of November.",
]


def make(path: Path = OUT) -> None:
    styles = getSampleStyleSheet()
    story = []
    for page, (title, fact) in enumerate(TOPICS, start=1):
        story.append(Paragraph(f"Field report, section {page}: {title}", styles["Heading2"]))
        sentences = []
        for i in range(22):
            sentences.append(FILLER[(i + page) % len(FILLER)])
            if i == 11:
                sentences.append(fact)
        story.append(Paragraph(" ".join(sentences), styles["BodyText"]))
        if page < len(TOPICS):
            story.append(PageBreak())
    SimpleDocTemplate(
        str(path), pagesize=A4, title="Field report", author="docrag tests", invariant=1
    ).build(story)


if __name__ == "__main__":
    make()
