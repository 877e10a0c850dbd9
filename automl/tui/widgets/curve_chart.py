"""The learning curve: training and validation scores against the rows fitted on."""

from __future__ import annotations

from typing import Any

from textual_plotext import PlotextPlot


class CurveChart(PlotextPlot):
    """Draws the curve of `automl.curve.LearningCurve.as_dict`."""

    def __init__(self, curve: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.curve = curve

    def on_mount(self) -> None:
        super().on_mount()
        plt = self.plt
        curve = self.curve
        points = curve["points"]
        rows = [p["rows"] for p in points]
        plt.title(f"{curve['metric']} by training rows")
        plt.xlabel("rows")
        plt.plot(rows, [p["train"] for p in points], marker="braille", label="training")
        plt.plot(rows, [p["valid"] for p in points], marker="braille", label="validation")
        plt.scatter(rows, [p["valid"] for p in points], marker="dot")
        plt.xticks(rows, [f"{r:,}" for r in rows])
        self.refresh()
