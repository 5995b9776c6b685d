"""Text whose wrapped lines keep their indent (a hanging indent), for lists drawn as lines.

Textual wraps a ``Content`` line back to the left edge, so a long line under a bullet or an
indented row reads like a new item at 80 columns. ``Hanging`` wraps each line itself, for the
width it is drawn at, and starts every continuation two cells in from the line's indent: under
the text of a bulleted line (``▸ ``, ``+ ``, ``✗ ``…), visibly inside any other.
"""

from __future__ import annotations

from textual.content import Content
from textual.css.styles import RulesMap
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, Visual

HANG = 2  # under the text of a bulleted line ("▸ ", "+ ", "✗ "…); two in from any other line
MIN_TEXT = 20  # narrower than this after the indent: no hanging indent (it would be a column of words)


def hang_of(line: str) -> int:
    """Where a continuation of ``line`` starts: two cells in from the line's own indent, so it
    never reads as the next item."""
    return len(line) - len(line.lstrip(" ")) + HANG


def hanging_lines(content: Content, width: int) -> Content:
    """``content`` wrapped to ``width`` with every continuation line indented to its hang."""
    out: list[Content] = []
    for line in content.split("\n"):
        hang = hang_of(line.plain)
        if line.cell_length <= width or width - hang < MIN_TEXT:
            out.append(line)
            continue
        first = line.wrap(width)[0]
        if not line.plain.startswith(first.plain):  # not a plain prefix (never seen): Textual's wrap
            out.append(line)
            continue
        rest = line[len(first.plain) :]
        rest = rest[len(rest.plain) - len(rest.plain.lstrip(" ")) :]  # the spaces the wrap broke at
        out.append(first)
        out += [Content(" " * hang) + piece for piece in rest.wrap(width - hang)]
    return Content("\n").join(out)


class Hanging(Visual):
    """A ``Content`` drawn with hanging indents; it wraps again for each width it is drawn at."""

    def __init__(self, content: Content) -> None:
        self.content = content
        self._wrapped: tuple[int, Content] | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hanging) and other.content == self.content

    def __hash__(self) -> int:
        return hash(self.content)

    @property
    def plain(self) -> str:
        return self.content.plain

    def __str__(self) -> str:
        return self.content.plain

    def at(self, width: int) -> Content:
        if self._wrapped is None or self._wrapped[0] != width:
            self._wrapped = (width, hanging_lines(self.content, width))
        return self._wrapped[1]

    def render_strips(self, width: int, height: int | None, style: Style, options: RenderOptions) -> list[Strip]:
        return self.at(width).render_strips(width, height, style, options)

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return self.content.get_optimal_width(rules, container_width)

    def get_minimal_width(self, rules: RulesMap) -> int:
        return self.content.get_minimal_width(rules)

    def get_height(self, rules: RulesMap, width: int) -> int:
        return self.at(width).get_height(rules, width)
