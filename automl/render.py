"""Documents as a list of blocks, rendered as Markdown and as self-contained HTML.

The report of a bundle and the evaluation that `automl evaluate --output` writes are
made of the same blocks, so the Markdown and the HTML always say the same thing.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Table:
    header: list[str]
    rows: list[list[Any]]


@dataclass
class Image:
    name: str
    caption: str


# ("h1" | "h2" | "h3" | "p" | "code", text), ("table", Table) or ("img", Image)
Block = tuple[str, Any]


def markdown(blocks: Sequence[Block]) -> str:
    """The blocks as Markdown; images are linked by file name."""
    out: list[str] = []
    for kind, content in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append(f"{'#' * int(kind[1])} {content}")
        elif kind == "p":
            out.append(content)
        elif kind == "code":
            out.append(f"```\n{content}\n```")
        elif kind == "img":
            out.append(f"![{content.caption}]({content.name})")
        elif kind == "table":
            lines = [_md_row(content.header), "|" + "---|" * len(content.header)]
            out.append("\n".join(lines + [_md_row(r) for r in content.rows]))
    return "\n\n".join(out) + "\n"


def _md_row(row: Sequence[Any]) -> str:
    return "| " + " | ".join(str(v).replace("|", "\\|").replace("\n", " ") for v in row) + " |"


def html_page(blocks: Sequence[Block], images: Mapping[str, bytes], title: str) -> str:
    """The blocks as one HTML page, with the `images` (name -> PNG bytes) embedded."""
    parts: list[str] = []
    for kind, content in blocks:
        if kind in ("h1", "h2", "h3", "p"):
            parts.append(f"<{kind}>{html.escape(content)}</{kind}>")
        elif kind == "code":
            parts.append(f"<pre><code>{html.escape(content)}</code></pre>")
        elif kind == "img":
            data = base64.b64encode(images[content.name]).decode()
            caption = html.escape(content.caption)
            parts.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{caption}"'
                f' data-file="{html.escape(content.name)}"><figcaption>{caption}</figcaption>'
                "</figure>"
            )
        elif kind == "table":
            head = "".join(f"<th>{html.escape(str(h))}</th>" for h in content.header)
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                for row in content.rows
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#222;line-height:1.45}table{border-collapse:collapse;margin:.5rem 0 1rem}"
    "th,td{border:1px solid #ccc;padding:.2rem .6rem;text-align:left}th{background:#f3f3f3}"
    "pre{background:#f6f6f6;padding:.6rem;overflow:auto}img{max-width:100%}"
    "figure{margin:1rem 0}figcaption{color:#666;font-size:.9rem}"
)
