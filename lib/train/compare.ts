// `foveal compare`'s table: what each attention block adds to the same CNN, on the same
// data and seed, in numbers.
import { type TrainRunResult } from './run'

export interface CompareRow {
  model: string
  parameters: number
  epochs: number
  testAccuracy: number | null
  /** Wall time of the whole run (training and evaluation), seconds. */
  seconds: number
  trainSamplesPerSecond: number
  inferenceSamplesPerSecond: number
}

export function compareRow (model: string, r: TrainRunResult): CompareRow {
  const f = r.metrics.final
  return {
    model,
    parameters: r.metrics.parameters,
    epochs: f.epochs,
    testAccuracy: f.testAccuracy,
    seconds: f.seconds,
    trainSamplesPerSecond: f.samplesPerSecond,
    inferenceSamplesPerSecond: f.evalSamplesPerSecond
  }
}

/** A Markdown table (readable as plain text too), one row per model, in the order given. */
export function compareMarkdown (rows: readonly CompareRow[]): string {
  const head = ['model', 'test accuracy', 'parameters', 'epochs', 'wall time', 'train img/s', 'inference img/s']
  const body = rows.map((r) => [
    r.model,
    r.testAccuracy === null ? '–' : `${(r.testAccuracy * 100).toFixed(2)}%`,
    r.parameters.toLocaleString('en-US'),
    String(r.epochs),
    `${r.seconds.toFixed(1)} s`,
    Math.round(r.trainSamplesPerSecond).toLocaleString('en-US'),
    Math.round(r.inferenceSamplesPerSecond).toLocaleString('en-US')
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)))
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join(' | ') + ' |'
  const rule = '|' + widths.map((w, i) => i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':').join('|') + '|'
  return [line(head), rule, ...body.map(line)].join('\n') + '\n'
}
