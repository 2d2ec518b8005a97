"""Results that Jupyter displays: ``check``'s and ``graph``'s, with ``_repr_html_`` and ``_repr_latex_``.

The math modules (:mod:`jacli.checking`, :mod:`jacli.graphs`) return plain results and import
no renderer; :mod:`jacli.api` hands Python users these subclasses, whose hooks import the
renderer only when a notebook asks for a view. (A quantity's :class:`Result` gets its hooks
from :class:`jacli.evaluation.DisplayedResult`.)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jacli.results import CheckResult, GraphResult


class DisplayedCheckResult(CheckResult):
    """A :class:`CheckResult` that Jupyter shows as HTML (the terminal's tables) or LaTeX."""

    def _repr_html_(self) -> str:
        from jacli.render.notebook import html_of  # noqa: PLC0415 - on display only

        return html_of(self)

    def _repr_latex_(self) -> str:
        from jacli.render.notebook import check_latex  # noqa: PLC0415 - on display only

        return check_latex(self)


class DisplayedGraphResult(GraphResult):
    """A :class:`GraphResult` that Jupyter shows as HTML (the terminal's tables) or LaTeX."""

    def _repr_html_(self) -> str:
        from jacli.render.notebook import html_of  # noqa: PLC0415 - on display only

        return html_of(self)

    def _repr_latex_(self) -> str:
        from jacli.render.notebook import graph_latex  # noqa: PLC0415 - on display only

        return graph_latex(self)


def displayed(result: Any) -> Any:
    """``result`` as its displayed subclass (the same fields)."""
    kind = DisplayedCheckResult if isinstance(result, CheckResult) else DisplayedGraphResult
    return kind(**{f.name: getattr(result, f.name) for f in dataclasses.fields(result)})
