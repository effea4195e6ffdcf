// Training curves as an SVG the project draws itself (axes, ticks, legend), rendered to
// PNG with @resvg/resvg-js: no browser, no canvas build.
export interface CurvePoint {
  epoch: number
  trainLoss?: number
  testLoss?: number
  /** Fractions in [0, 1]; drawn as percentages. */
  trainAccuracy?: number
  testAccuracy?: number
}

export interface CurvesOptions {
  width?: number
  height?: number
  title?: string
  /**
   * Draw text (title, tick labels, legend; default true). resvg draws text only with a font
   * it can find (DejaVu, Liberation, Arial… among the system's); without any, the text is
   * left out and the lines, axes and legend swatches remain.
   */
  text?: boolean
}

const COLORS = { train: '#1f77b4', test: '#ff7f0e' }
const FONT = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif'

/** An SVG document: loss per epoch on the left, accuracy (%) on the right, train and test series. */
export function curvesSvg (points: readonly CurvePoint[], opts: CurvesOptions = {}): string {
  const width = opts.width ?? 800
  const height = opts.height ?? 340
  const text = opts.text ?? true
  const top = opts.title && text ? 44 : 20
  const panelW = (width - 30) / 2
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`
  ]
  if (opts.title && text) parts.push(`<text x="${width / 2}" y="26" text-anchor="middle" font-family="${FONT}" font-size="16" font-weight="bold" fill="#222">${escapeXml(opts.title)}</text>`)
  const epochs = points.map((p) => p.epoch)
  parts.push(panel(points, epochs, {
    x: 10, y: top, w: panelW, h: height - top - 10, label: 'loss', text,
    series: [['train', (p) => p.trainLoss], ['test', (p) => p.testLoss]], percent: false, legend: 'top'
  }))
  parts.push(panel(points, epochs, {
    x: 20 + panelW, y: top, w: panelW, h: height - top - 10, label: 'accuracy (%)', text,
    series: [['train', (p) => p.trainAccuracy], ['test', (p) => p.testAccuracy]], percent: true, legend: 'bottom'
  }))
  parts.push('</svg>')
  return parts.join('\n')
}

interface PanelSpec {
  x: number, y: number, w: number, h: number, label: string, text: boolean, percent: boolean
  /** Where the legend goes: the corner the curves usually leave free (falling loss: top; rising accuracy: bottom). */
  legend: 'top' | 'bottom'
  series: Array<['train' | 'test', (p: CurvePoint) => number | undefined]>
}

function panel (points: readonly CurvePoint[], epochs: number[], s: PanelSpec): string {
  const left = s.x + (s.text ? 56 : 16)
  const right = s.x + s.w - 10
  const top = s.y + (s.text ? 22 : 8)
  const bottom = s.y + s.h - (s.text ? 40 : 12)
  const out: string[] = [`<rect x="${s.x}" y="${s.y}" width="${s.w}" height="${s.h}" fill="#fafafa" stroke="#ddd"/>`]
  const values: number[] = []
  for (const [, get] of s.series) {
    for (const p of points) {
      const v = get(p)
      if (v !== undefined && Number.isFinite(v)) values.push(s.percent ? v * 100 : v)
    }
  }
  // x: the epochs; one epoch gets a half-epoch margin each side so its point is not on an axis.
  const e0 = epochs.length ? Math.min(...epochs) : 1
  const e1 = epochs.length ? Math.max(...epochs) : 1
  const [xLo, xHi] = e1 > e0 ? [e0, e1] : [e0 - 0.5, e0 + 0.5]
  let yLo = values.length ? Math.min(...values) : 0
  let yHi = values.length ? Math.max(...values) : 1
  if (s.percent) yHi = Math.min(100, yHi)
  if (!(yHi > yLo)) { yLo -= 0.5; yHi += 0.5 }
  const yTicks = niceTicks(yLo, yHi, 5)
  yLo = Math.min(yLo, yTicks[0]); yHi = Math.max(yHi, yTicks[yTicks.length - 1])
  const px = (e: number): number => left + (e - xLo) / (xHi - xLo) * (right - left)
  const py = (v: number): number => bottom - (v - yLo) / (yHi - yLo) * (bottom - top)

  // Grid lines and ticks.
  for (const t of yTicks) {
    const y = py(t).toFixed(1)
    out.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#e4e4e4"/>`)
    out.push(`<line x1="${left - 4}" y1="${y}" x2="${left}" y2="${y}" stroke="#444"/>`)
    if (s.text) out.push(`<text x="${left - 7}" y="${y}" dy="4" text-anchor="end" font-family="${FONT}" font-size="11" fill="#333">${fmtTick(t, yTicks)}</text>`)
  }
  const xTicks = epochTicks(xLo, xHi)
  for (const e of xTicks) {
    const x = px(e).toFixed(1)
    out.push(`<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 4}" stroke="#444"/>`)
    if (s.text) out.push(`<text x="${x}" y="${bottom + 17}" text-anchor="middle" font-family="${FONT}" font-size="11" fill="#333">${e}</text>`)
  }
  // Axes.
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#444" stroke-width="1.2"/>`)
  out.push(`<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#444" stroke-width="1.2"/>`)
  if (s.text) {
    out.push(`<text x="${(left + right) / 2}" y="${bottom + 33}" text-anchor="middle" font-family="${FONT}" font-size="12" fill="#333">epoch</text>`)
    out.push(`<text x="${left}" y="${top - 8}" font-family="${FONT}" font-size="13" font-weight="bold" fill="#222">${escapeXml(s.label)}</text>`)
  }
  // Series: a polyline and a dot per epoch (a single epoch is a dot).
  for (const [name, get] of s.series) {
    const pts = points.filter((p) => { const v = get(p); return v !== undefined && Number.isFinite(v) })
      .map((p) => [px(p.epoch), py((get(p) as number) * (s.percent ? 100 : 1))])
    if (pts.length === 0) continue
    const dash = name === 'test' ? ' stroke-dasharray="6 3"' : ''
    out.push(`<polyline fill="none" stroke="${COLORS[name]}" stroke-width="2"${dash} points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`)
    for (const [x, y] of pts) out.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${COLORS[name]}"/>`)
  }
  // Legend, in a right-hand corner.
  const present = s.series.filter(([, get]) => points.some((p) => get(p) !== undefined))
  present.forEach(([name], i) => {
    const lx = right - (s.text ? 78 : 30)
    const ly = s.legend === 'top' ? top + 10 + i * 16 : bottom - 10 - (present.length - 1 - i) * 16
    const dash = name === 'test' ? ' stroke-dasharray="6 3"' : ''
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${COLORS[name]}" stroke-width="2"${dash}/>`)
    if (s.text) out.push(`<text x="${lx + 28}" y="${ly + 4}" font-family="${FONT}" font-size="11" fill="#333">${name}</text>`)
  })
  return out.join('\n')
}

/** Round tick values (steps of 1, 2 or 5 × 10^k) covering [lo, hi], about `count` of them. */
export function niceTicks (lo: number, hi: number, count: number): number[] {
  if (!(hi > lo) || !Number.isFinite(hi - lo)) return [lo]
  const raw = (hi - lo) / Math.max(1, count)
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => raw <= s) as number
  const first = Math.floor(lo / step) * step
  const ticks: number[] = []
  for (let t = first; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toFixed(12)))
  if (ticks[ticks.length - 1] < hi) ticks.push(Number((ticks[ticks.length - 1] + step).toFixed(12)))
  return ticks
}

function epochTicks (lo: number, hi: number): number[] {
  const first = Math.ceil(lo)
  const last = Math.floor(hi)
  const step = Math.max(1, Math.ceil((last - first + 1) / 10))
  const out: number[] = []
  for (let e = first; e <= last; e += step) out.push(e)
  return out
}

function fmtTick (t: number, all: number[]): string {
  const step = all.length > 1 ? Math.abs(all[1] - all[0]) : 1
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)))
  return t.toFixed(decimals)
}

function escapeXml (s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string)
}

export interface RenderOptions {
  /** Extra font files for the text (default: the system's fonts). */
  fontFiles?: string[]
}

/** Renders an SVG document to PNG bytes with @resvg/resvg-js (loaded on first use). */
export function renderSvg (svg: string, opts: RenderOptions = {}): Buffer {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use
  const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js')
  const r = new Resvg(svg, {
    font: { loadSystemFonts: true, fontFiles: opts.fontFiles ?? [], defaultFontFamily: 'DejaVu Sans' },
    background: '#ffffff'
  })
  return r.render().asPng()
}

/** curvesSvg rendered to PNG. */
export function curvesPng (points: readonly CurvePoint[], opts: CurvesOptions & RenderOptions = {}): Buffer {
  return renderSvg(curvesSvg(points, opts), opts)
}
