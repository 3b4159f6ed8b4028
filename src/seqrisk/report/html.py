"""Self-contained HTML pages: one file, the plotting library's JavaScript inlined once.

The page opens offline: no CDN, no fonts or images from elsewhere.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Page", "Section", "esc", "html_table"]

_CSS = """
:root { --fg:#1d2330; --muted:#5b6474; --line:#dde2ea; --accent:#2f5fd0; --bad:#b3261e; --good:#1e7b34; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       margin: 0; background: #f6f7f9; }
header { background: #111827; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header p { margin: 0; color: #c7cdd8; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 32px 48px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px;
          margin: 16px 0; }
h2 { font-size: 18px; margin: 0 0 8px 0; }
h3 { font-size: 15px; margin: 16px 0 6px 0; }
p.lead { color: var(--muted); margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; margin: 8px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; }
.kpi { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.kpi .label { color: var(--muted); font-size: 12.5px; text-transform: uppercase; letter-spacing: .04em; }
.kpi .value { font-size: 24px; font-weight: 600; }
.kpi .ci { color: var(--muted); font-size: 12.5px; }
.note { color: var(--muted); font-size: 13px; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
pre { background: #f1f3f6; padding: 8px 12px; border-radius: 6px; overflow-x: auto; white-space: pre-wrap; }
.plot { min-height: 360px; }
nav a { color: #c7cdd8; margin-right: 14px; text-decoration: none; font-size: 13px; }
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def html_table(headers: list[str], rows: list[list[Any]], *, numeric: tuple[int, ...] = ()) -> str:
    """A plain HTML table; columns whose index is in ``numeric`` are right-aligned."""
    th = "".join(f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
                 for i, h in enumerate(headers))
    body = []
    for r in rows:
        tds = "".join(f'<td class="num">{esc(v)}</td>' if i in numeric else f"<td>{esc(v)}</td>"
                      for i, v in enumerate(r))
        body.append(f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


@dataclass
class Section:
    """One titled block of the page: raw HTML parts and plotly figures, in order."""

    id: str
    title: str
    parts: list[Any] = field(default_factory=list)

    def text(self, markup: str) -> Section:
        self.parts.append(markup)
        return self

    def figure(self, fig: Any) -> Section:
        self.parts.append(fig)
        return self


@dataclass
class Page:
    title: str
    subtitle: str
    sections: list[Section] = field(default_factory=list)

    def section(self, id: str, title: str) -> Section:
        s = Section(id, title)
        self.sections.append(s)
        return s

    def render(self) -> str:
        """The whole page as one HTML string, plotly.js inlined once."""
        from plotly.offline import get_plotlyjs

        nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in self.sections)
        blocks = []
        n = 0
        for s in self.sections:
            inner = []
            for part in s.parts:
                if isinstance(part, str):
                    inner.append(part)
                else:
                    n += 1
                    inner.append('<div class="plot">' + part.to_html(
                        full_html=False, include_plotlyjs=False, div_id=f"fig-{s.id}-{n}",
                        config={"displaylogo": False, "responsive": True}) + "</div>")
            blocks.append(f'<section id="{esc(s.id)}"><h2>{esc(s.title)}</h2>{"".join(inner)}</section>')
        return (
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{esc(self.title)}</title>"
            f"<style>{_CSS}</style><script type=\"text/javascript\">{get_plotlyjs()}</script></head><body>"
            f"<header><h1>{esc(self.title)}</h1><p>{esc(self.subtitle)}</p><nav>{nav}</nav></header>"
            f"<main>{''.join(blocks)}</main></body></html>"
        )
