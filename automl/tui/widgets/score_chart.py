"""The best score so far against time, with every complete trial as a dot."""

from __future__ import annotations

from textual_plotext import PlotextPlot


class ScoreChart(PlotextPlot):
    """Call `add` for each complete trial; the chart redraws itself."""

    def __init__(self, metric: str = "score", direction: str = "maximize", **kwargs) -> None:
        super().__init__(**kwargs)
        self.metric = metric
        self.direction = direction
        self.points: list[tuple[float, float]] = []

    def configure(self, metric: str, direction: str) -> None:
        self.metric = metric
        self.direction = direction
        self.redraw()

    def add(self, seconds: float, value: float) -> None:
        self.points.append((seconds, value))
        self.redraw()

    def best_line(self) -> tuple[list[float], list[float]]:
        """The best so far as a step line: flat until a trial beats it, then up (or down)."""
        xs: list[float] = []
        ys: list[float] = []
        best: float | None = None
        pick = max if self.direction == "maximize" else min
        for seconds, value in sorted(self.points):
            if best is not None:
                xs.append(seconds)
                ys.append(best)
            best = value if best is None else pick(best, value)
            xs.append(seconds)
            ys.append(best)
        return xs, ys

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"best {self.metric} so far")
        plt.xlabel("seconds")
        if self.points:
            xs, ys = self.best_line()
            plt.scatter([p[0] for p in self.points], [p[1] for p in self.points], marker="dot")
            plt.plot(xs, ys, marker="braille")
        self.refresh()
