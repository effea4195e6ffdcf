// `foveal bench`: the benchmark suites (bench/run.js), with the peers that are installed.
import { spawnSync } from 'child_process'
import * as fs from 'fs'
import * as path from 'path'
import { packageRoot } from '../native'
import { CliError, bool, intFlag, parseFlags } from './common'

const HELP = `Usage: foveal bench [suite …] [options]

Runs foveal's benchmark suites (all of them, or the ones named) beside the peers found
(onnxruntime-node, tfjs-wasm, PyTorch), prints a table and writes bench/results/<date>.json.
The suites live in the repository's bench/ folder, which the npm package does not ship:
run this from a clone (\`npm run bench:setup\` installs the peers).

Options:
  --threads N        kernel threads (default: the CPUs this process may use)
  --quick            fewer repetitions and smaller shapes
  --help, -h         this text
`

/** bench/run.js and the suite names under `root`, or null when this install has no bench/. */
export function findBench (root: string = packageRoot): { script: string, suites: string[] } | null {
  const script = path.join(root, 'bench', 'run.js')
  const dir = path.join(root, 'bench', 'suites')
  if (!fs.existsSync(script) || !fs.existsSync(dir)) return null
  const suites = fs.readdirSync(dir).filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3)).sort()
  return { script, suites }
}

export async function bench (args: string[]): Promise<number> {
  const p = parseFlags('bench', args, { threads: { type: 'string' }, quick: { type: 'boolean' } }, true)
  if (bool(p, 'help')) {
    process.stdout.write(HELP)
    return 0
  }
  const threads = intFlag(p, 'threads', 1)
  const found = findBench()
  if (found === null) {
    throw new CliError(`the benchmarks are not in this installed package (bench/ ships only in foveal's repository, not at ${packageRoot}); ` +
      'run `npm run bench` in a clone', 1)
  }
  const unknown = p.positionals.filter((s) => !found.suites.includes(s))
  if (unknown.length > 0) throw new CliError(`unknown suite '${unknown[0]}'; the suites are ${found.suites.join(', ')}`)
  const forward = [...p.positionals, ...(threads === undefined ? [] : ['--threads', String(threads)]), ...(bool(p, 'quick') ? ['--quick'] : [])]
  const r = spawnSync(process.execPath, [found.script, ...forward], { stdio: 'inherit' })
  if (r.error) throw new CliError(`could not run ${found.script}: ${r.error.message}`, 1)
  return r.status ?? 1
}
