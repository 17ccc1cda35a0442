"""Tiny annual reports of made-up companies, written as real PDFs with reportlab: a cover
page naming the company, a page of prose and a page with an income statement table."""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas


@dataclass(frozen=True)
class Filing:
    company: str
    year: int
    revenue: tuple[str, str, str]
    net_income: tuple[str, str, str]
    business: str

    @property
    def filename(self) -> str:
        return f"{self.company.upper().replace(' ', '')}_{self.year}_10K.pdf"


GLOBEX = Filing(
    "Globex",
    2021,
    ("12,480", "11,020", "10,310"),
    ("5,007", "4,002", "3,659"),
    "Globex Corporation designs and manufactures industrial pumps and valves for water "
    "utilities. Its plants are in Ohio and Bavaria. Demand rose with municipal spending.",
)
INITECH = Filing(
    "Initech",
    2021,
    ("8,115", "7,930", "7,402"),
    ("1,204", "1,577", "1,373"),
    "Initech Inc. writes payroll and accounting software for small businesses. Its "
    "subscriptions are billed monthly. Demand rose as more firms moved their books online.",
)


# Prose every filing has, so that each page makes chunks of its own.
_BOILERPLATE = (
    "The company has no pending litigation that it considers material",
    "Employees are offered training, health insurance and a retirement plan",
    "The board of directors meets every quarter and reviews the budget",
    "Suppliers are chosen by price, quality and the reliability of delivery",
    "Competition comes from larger firms with wider distribution networks",
    "Customers are served by a sales team organised by region and industry",
    "Research spending goes to new products and to lowering production costs",
    "Seasonal demand is highest in the spring and lowest in the winter months",
    "Insurance covers property damage, product liability and business interruption",
    "Environmental rules apply to waste disposal and to emissions from the plants",
    "Information technology systems are protected by firewalls and regular audits",
    "Shares are listed on a national exchange and dividends are paid twice a year",
)

_RISKS = (
    "Risk factors",
    "A downturn in the economy could reduce orders from our largest customers",
    "Rising interest rates would increase the cost of our floating rate borrowings",
    "A failure of our computer systems could interrupt billing and shipping",
    "Changes in tax law could raise our effective tax rate in future years",
    "The loss of key managers could delay the launch of new products",
    "Currency movements affect the value of sales made outside the United States",
    "Shortages of parts from single suppliers could delay deliveries to customers",
    "New regulations could require costly changes to our products and processes",
    "Litigation about patents could force us to pay royalties or change designs",
    "Severe weather could damage our facilities and disrupt our supply chain",
)


def _line(pdf: canvas.Canvas, y: float, label: str, values: tuple[str, ...] = ()) -> None:
    pdf.drawString(72, y, label)
    for column, value in enumerate(values):
        pdf.drawRightString(400 + column * 70, y, value)


def filing_pdf(filing: Filing) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter)
    pdf.setTitle(f"{filing.company} Corporation Form 10-K {filing.year}")
    pdf.setFont("Helvetica", 14)
    pdf.drawString(72, 700, f"{filing.company} Corporation")
    pdf.drawString(72, 680, f"Annual Report on Form 10-K for the fiscal year {filing.year}")
    pdf.showPage()
    pdf.setFont("Helvetica", 10)
    y = 700.0
    for sentence in [*filing.business.split(". "), *_BOILERPLATE]:
        pdf.drawString(72, y, sentence.rstrip(".") + ".")
        y -= 16
    pdf.showPage()
    pdf.setFont("Helvetica", 10)
    years = tuple(str(filing.year - i) for i in range(3))
    _line(pdf, 700, "Consolidated Statements of Income")
    _line(pdf, 680, "(in millions)", years)
    _line(pdf, 660, "Total revenue", filing.revenue)
    _line(pdf, 640, "Cost of sales", ("4,100", "3,980", "3,700"))
    _line(pdf, 620, "Net income", filing.net_income)
    _line(pdf, 590, "Net income rose because of higher volumes and lower input costs.")
    pdf.showPage()
    pdf.setFont("Helvetica", 10)
    y = 700.0
    for sentence in _RISKS:
        pdf.drawString(72, y, sentence + ".")
        y -= 16
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
