// `foveal compare`: several models trained on the same data and seed, one table.
import * as fs from 'fs'
import * as path from 'path'
import { type CompareRow, compareMarkdown, compareRow } from '../train/compare'
import { MODEL_NAMES, isModelName } from '../train/models'
import { runName } from '../train/outputs'
import { trimPool } from '../info'
import { reporterFor } from '../train/progress'
import { trainRun } from '../train/run'
import { CliError, bool, commandLine, parseFlags, str } from './common'
import { TRAINING_HELP, TRAINING_OPTIONS, loadRunData, trainingSettings } from './train'

const HELP = `Usage: foveal compare [options]

Trains several models on the same data with the same seed and settings, one after the
other, and prints one table: test accuracy, parameters, wall time, training and inference
images per second. Writes compare.json and compare.md, and each model's run in its own
folder, under --out.

Options:
  --models LIST      comma-separated, from ${MODEL_NAMES.join(',')}
                     (default: all of them)
  --out DIR          where to write (default runs/compare-<date>-<time>)
${TRAINING_HELP}
`

export async function compare (args: string[]): Promise<number> {
  const p = parseFlags('compare', args, { ...TRAINING_OPTIONS, models: { type: 'string' } })
  if (bool(p, 'help')) {
    process.stdout.write(HELP)
    return 0
  }
  const models = (str(p, 'models', MODEL_NAMES.join(',')) as string).split(',').map((m) => m.trim()).filter((m) => m !== '')
  const unknown = models.filter((m) => !isModelName(m))
  if (models.length === 0 || unknown.length > 0) {
    throw new CliError(`--models must be a comma-separated list of ${MODEL_NAMES.join(', ')}, got '${str(p, 'models') ?? ''}'`)
  }
  if (new Set(models).size !== models.length) throw new CliError(`--models lists a model twice: '${str(p, 'models')}'`)
  const s = trainingSettings(p)
  const data = loadRunData(s)
  const out = s.out ?? path.join('runs', runName('compare'))
  const stream = s.json ? process.stderr : process.stdout
  const rows: CompareRow[] = []
  let lr = s.lr
  for (const model of models) {
    const reporter = reporterFor(stream, { quiet: s.quiet, title: `${model} on ${data.name}` })
    const r = await trainRun({
      model, optimizer: s.optimizer, lr: s.lr, schedule: s.schedule, data, fit: s.fit, outDir: path.join(out, model), reporter,
      command: commandLine('compare', args)
    })
    rows.push(compareRow(model, r))
    lr = r.metrics.config.lr // the schedule's default peak when --lr was not given
    // The pool caches blocks by size class, and the next model's sizes differ: what this
    // model left cached would only add to the process's memory (compare stayed above 1 GiB).
    trimPool()
  }
  const table = compareMarkdown(rows)
  fs.mkdirSync(out, { recursive: true })
  const record = { command: commandLine('compare', args), data: data.name, settings: { ...s.fit, lr, schedule: s.schedule, optimizer: s.optimizer }, rows }
  fs.writeFileSync(path.join(out, 'compare.json'), JSON.stringify(record, null, 2) + '\n')
  fs.writeFileSync(path.join(out, 'compare.md'), `# foveal compare on ${data.name}\n\n\`${record.command}\`\n\n${table}`)
  if (s.json) process.stdout.write(JSON.stringify({ dir: out, ...record }, null, 2) + '\n')
  else process.stdout.write(`\n${table}\nwrote ${path.join(out, 'compare.md')}\n`)
  return 0
}
