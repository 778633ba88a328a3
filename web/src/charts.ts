// Time charts with uPlot (npm `uplot`): the search histogram and the risk timelines.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  values: number[];
  color: string;
}

/** A bar chart over epoch-second `times`, sized to its container; redrawn on resize. */
export function timeBars(container: HTMLElement, times: number[], series: Series[], height = 160): uPlot {
  const bars = uPlot.paths.bars!({ size: [0.8, 40], align: 0 });
  const opts: uPlot.Options = {
    width: Math.max(300, container.clientWidth || 600),
    height,
    legend: { show: series.length > 1 },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [
      { stroke: "#8b95a7", grid: { stroke: "#263043" }, ticks: { stroke: "#263043" } },
      { stroke: "#8b95a7", grid: { stroke: "#263043" }, ticks: { stroke: "#263043" }, size: 50 },
    ],
    series: [
      { value: (_u, v) => (v == null ? "" : new Date(v * 1000).toISOString().replace("T", " ").slice(0, 19)) },
      ...series.map((s) => ({ label: s.label, stroke: s.color, fill: `${s.color}aa`, width: 1, paths: bars, points: { show: false } })),
    ],
  };
  const chart = new uPlot(opts, [times, ...series.map((s) => s.values)], container);
  const resize = new ResizeObserver(() => {
    if (!container.isConnected) return resize.disconnect();
    chart.setSize({ width: Math.max(300, container.clientWidth), height });
  });
  resize.observe(container);
  return chart;
}
