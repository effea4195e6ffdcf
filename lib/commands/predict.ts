// `foveal predict`: classes and probabilities for PNG pictures from a trained model, and a
// heat-map of its attention beside each picture.
import * as fs from 'fs'
import * as path from 'path'
import { type CheckpointInfo, loadCheckpoint, predict as runPredict, predictionHeatmap, toModelInput } from '../train/predict'
import { type TrainModel } from '../train/types'
import { type RgbaImage } from '../viz/image'
import { readPng, writePng } from '../viz/png'
import { CliError, bool, choiceFlag, parseFlags, str } from './common'

const HELP = `Usage: foveal predict --model runs/<name>/model.safetensors picture.png [more.png …]

Classifies PNG pictures with a model \`foveal train\` wrote. Any size and colour type is
accepted: a digit model sees each picture as MNIST's digits were made (grey, white ink on
black whichever way round the picture is, fitted to 20×20 and centred in 28×28). Prints
the class and its probability per picture, and writes <picture>.attention.png beside it:
what the model saw, with its attention overlaid.

Options:
  --model FILE       the model.safetensors of a run (required)
  --fit MODE         mnist (default) | pad | stretch: how a picture becomes 28×28
  --out DIR          write the heat-maps here instead of beside the pictures
  --no-heatmap       write no heat-maps
  --json             print JSON: one object per picture with every class's probability
  --help, -h         this text
`

export async function predict (args: string[]): Promise<number> {
  const p = parseFlags('predict', args, {
    model: { type: 'string' }, fit: { type: 'string' }, out: { type: 'string' }, 'no-heatmap': { type: 'boolean' }, json: { type: 'boolean' }
  }, true)
  if (bool(p, 'help')) {
    process.stdout.write(HELP)
    return 0
  }
  const modelFile = str(p, 'model')
  if (modelFile === undefined) throw new CliError('--model is required: the model.safetensors of a run (see foveal predict --help)')
  const fit = choiceFlag(p, 'fit', ['mnist', 'pad', 'stretch'] as const, 'mnist')
  if (p.positionals.length === 0) throw new CliError('no pictures given: foveal predict --model FILE picture.png [more.png …]')
  if (!fs.existsSync(modelFile)) throw new CliError(`${modelFile} does not exist`, 1)
  // Every picture is read before the model is, so a bad one is reported at once.
  const pictures: Array<{ file: string, image: RgbaImage }> = p.positionals.map((file) => {
    if (!fs.existsSync(file)) throw new CliError(`${file} does not exist`, 1)
    try {
      return { file, image: readPng(file) }
    } catch (err) {
      throw new CliError((err as Error).message, 1)
    }
  })
  let loaded: { model: TrainModel, info: CheckpointInfo }
  try {
    loaded = loadCheckpoint(modelFile)
  } catch (err) {
    throw new CliError((err as Error).message, 1)
  }
  const { model, info } = loaded
  const [c, h, w] = info.input
  const inputs = new Float32Array(pictures.length * c * h * w)
  pictures.forEach((pic, i) => inputs.set(toModelInput(pic.image, info, { fit }), i * c * h * w))
  const r = runPredict(model, inputs, pictures.length, info)
  const k = info.classNames.length
  const outDir = str(p, 'out')
  if (outDir !== undefined) fs.mkdirSync(outDir, { recursive: true })
  const results = pictures.map((pic, i) => {
    let heatmapFile: string | null = null
    if (!bool(p, 'no-heatmap')) {
      const base = path.basename(pic.file).replace(/\.png$/i, '') + '.attention.png'
      heatmapFile = path.join(outDir ?? path.dirname(pic.file), base)
      writePng(heatmapFile, predictionHeatmap(inputs, i, info, r))
    }
    const probs = Object.fromEntries(info.classNames.map((name, j) => [name, r.probabilities[i * k + j]]))
    return { file: pic.file, class: info.classNames[r.classes[i]], probability: r.probabilities[i * k + r.classes[i]], probabilities: probs, heatmap: heatmapFile }
  })
  if (bool(p, 'json')) {
    process.stdout.write(JSON.stringify(results, null, 2) + '\n')
    return 0
  }
  const width = Math.max(...results.map((x) => x.file.length))
  for (const x of results) {
    const top = Object.entries(x.probabilities).sort((a, b) => b[1] - a[1]).slice(1, 3)
      .map(([name, v]) => `${name} ${(v * 100).toFixed(1)}%`).join(', ')
    process.stdout.write(`${x.file.padEnd(width)}  ${x.class}  ${(x.probability * 100).toFixed(1)}%  (next: ${top})` +
      `${x.heatmap ? `  → ${x.heatmap}` : ''}\n`)
  }
  return 0
}
