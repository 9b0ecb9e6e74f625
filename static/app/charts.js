/**
 * Tiny hand-drawn SVG charts for the dashboard (no libraries; the machines have no internet):
 * a multi-series line chart over a sliding window, a bar chart and a stacked proportion bar.
 * All text goes through textContent; nothing from the server is parsed as markup.
 */
const SVG_NS = 'http://www.w3.org/2000/svg';
const WIDTH = 320;
const HEIGHT = 110;
const PAD = { left: 34, right: 6, top: 8, bottom: 16 };

function svgElement(name, attributes = {}) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
}

function formatAxis(value) {
  if (value >= 1000) return `${(value / 1000).toFixed(value >= 10000 ? 0 : 1)}k`;
  if (value >= 10 || Number.isInteger(value)) return String(Math.round(value));
  return value.toFixed(1);
}

/** Round maximum for an axis (1, 2, 5 × 10^n). */
export function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

/**
 * Draws series (arrays of numbers or nulls, oldest first) into `svg`.
 * @param {SVGSVGElement} svg
 * @param {{ label: string, color: string, values: (number|null)[] }[]} series
 * @param {{ capacity: number, unit?: string }} options
 */
export function drawLineChart(svg, series, { capacity, unit = '' }) {
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
  svg.replaceChildren();
  const all = series.flatMap((line) => line.values).filter((value) => typeof value === 'number');
  const max = niceMax(Math.max(0, ...all));
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const x = (index) => PAD.left + (capacity <= 1 ? 0 : (index / (capacity - 1)) * plotWidth);
  const y = (value) => PAD.top + plotHeight - (value / max) * plotHeight;
  for (const fraction of [0, 0.5, 1]) {
    const value = max * fraction;
    svg.append(svgElement('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value), class: 'grid' }));
    const label = svgElement('text', { x: PAD.left - 4, y: y(value) + 3, 'text-anchor': 'end', class: 'axis' });
    label.textContent = `${formatAxis(value)}${fraction === 1 ? unit : ''}`;
    svg.append(label);
  }
  for (const line of series) {
    const offset = capacity - line.values.length;
    let path = '';
    line.values.forEach((value, index) => {
      if (typeof value !== 'number') return;
      path += `${path === '' || typeof line.values[index - 1] !== 'number' ? 'M' : 'L'}${x(offset + index).toFixed(1)},${y(value).toFixed(1)} `;
    });
    if (path) svg.append(svgElement('path', { d: path, fill: 'none', stroke: line.color, 'stroke-width': 1.8, 'stroke-linejoin': 'round' }));
    // The newest value as a dot: visible even when the window holds a single point.
    const lastIndex = line.values.length - 1;
    const last = line.values[lastIndex];
    if (typeof last === 'number') svg.append(svgElement('circle', { cx: x(offset + lastIndex), cy: y(last), r: 2.5, fill: line.color }));
  }
}

/** Bars for labelled values (e.g. a batch-size histogram). */
export function drawBarChart(svg, bars, { unit = '' } = {}) {
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
  svg.replaceChildren();
  if (bars.length === 0) {
    const empty = svgElement('text', { x: WIDTH / 2, y: HEIGHT / 2, 'text-anchor': 'middle', class: 'axis' });
    empty.textContent = 'no batches yet';
    svg.append(empty);
    return;
  }
  const max = niceMax(Math.max(...bars.map((bar) => bar.value)));
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotWidth / bars.length;
  const top = svgElement('text', { x: PAD.left - 4, y: PAD.top + 3, 'text-anchor': 'end', class: 'axis' });
  top.textContent = `${formatAxis(max)}${unit}`;
  svg.append(top, svgElement('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: PAD.top + plotHeight, y2: PAD.top + plotHeight, class: 'grid' }));
  bars.forEach((bar, index) => {
    const height = (bar.value / max) * plotHeight;
    const rect = svgElement('rect', {
      x: PAD.left + index * slot + slot * 0.15,
      y: PAD.top + plotHeight - height,
      width: slot * 0.7,
      height: Math.max(height, 0.5),
      class: 'bar',
    });
    const title = svgElement('title');
    title.textContent = `${bar.label}: ${bar.value}`;
    rect.append(title);
    const label = svgElement('text', { x: PAD.left + index * slot + slot / 2, y: HEIGHT - 4, 'text-anchor': 'middle', class: 'axis' });
    label.textContent = bar.label;
    svg.append(rect, label);
  });
}

/** A horizontal bar split by shares (e.g. flush reasons), with a text legend for screen readers. */
export function renderProportions(container, parts) {
  const total = parts.reduce((sum, part) => sum + part.value, 0);
  const bar = document.createElement('div');
  bar.className = 'proportion';
  for (const part of parts) {
    if (total === 0 || part.value === 0) continue;
    const segment = document.createElement('span');
    segment.style.width = `${(part.value / total) * 100}%`;
    segment.style.background = part.color;
    segment.title = `${part.label}: ${part.value}`;
    bar.append(segment);
  }
  const legend = document.createElement('p');
  legend.className = 'legend';
  legend.textContent = total === 0 ? 'none yet' : parts.map((part) => `${part.label} ${part.value}`).join(' · ');
  container.replaceChildren(bar, legend);
}
