"""``fillforge report``: one self-contained HTML report of a journal, its charts also as PNG
files (issue 19; ``docs/report.md``).

>>> from fillforge.report import open_input, report_data, write_report
>>> with open_input("agent.journal") as j:           # doctest: +SKIP
...     write_report(report_data(j), Path("report.html"), png_dir=Path("charts"))
"""

from fillforge.report.charts import CHARTS, SIGN, Chart
from fillforge.report.costs import CostFigures, cost_figures
from fillforge.report.data import ReportData, report_data
from fillforge.report.render import (
    check_targets,
    render_charts,
    report_html,
    require_matplotlib,
    write_report,
)
from fillforge.report.source import open_input

__all__ = [
    "CHARTS",
    "SIGN",
    "Chart",
    "CostFigures",
    "ReportData",
    "check_targets",
    "cost_figures",
    "open_input",
    "render_charts",
    "report_data",
    "report_html",
    "require_matplotlib",
    "write_report",
]
