// `foveal info`: what foveal found on this host.
import { type Info, info as getInfo } from '../info'
import { bool, parseFlags } from './common'

const HELP = `Usage: foveal info [--json]

What foveal found on this host: version, binary and how it was built, CPU features and the
instruction set in use, threads, memory pool, CUDA library and devices.

Options:
  --json             the same as JSON
  --help, -h         this text
`

export async function info (args: string[]): Promise<number> {
  const p = parseFlags('info', args, { json: { type: 'boolean' } })
  if (bool(p, 'help')) {
    process.stdout.write(HELP)
    return 0
  }
  if (bool(p, 'json')) process.stdout.write(JSON.stringify(getInfo(), null, 2) + '\n')
  else printInfo(getInfo())
  return 0
}

function printInfo (i: Info): void {
  const lines = [
    `foveal ${i.version}`,
    `binary      ${i.binary.path}`,
    `            ${i.binary.origin === 'prebuilt' ? 'prebuilt' : 'built from source'} by ${i.binary.buildRoute}, N-API ${i.binary.napiVersion}${i.binary.compiler ? ', ' + i.binary.compiler : ''}`,
    `cpu         ${i.cpu.brand || i.cpu.vendor}`,
    `features    ${i.cpu.features.join(' ')}`,
    `isa         ${i.isa.active} in use (best supported: ${i.isa.best}; supported: ${i.isa.supported.join(', ')})`,
    ...(i.isa.note ? [`            ${i.isa.note}`] : []),
    `kernels     ${i.kernels.map((k) => `${k.name}=${k.active}`).join(' ')}`,
    `threads     ${i.threads.count} (default ${i.threads.default})`,
    `pool        ${(i.pool.liveBytes / 2 ** 20).toFixed(1)} MiB live, ${(i.pool.cachedBytes / 2 ** 20).toFixed(1)} MiB cached, limit ${(i.pool.cacheLimit / 2 ** 20).toFixed(0)} MiB`,
    `backends    ${i.backends.join(', ')}`,
    `cuda        ${cudaLine(i)}`,
    `            library: ${i.cuda.library}`
  ]
  for (const d of i.cuda.devices) {
    lines.push(`            device ${d.index}: ${d.name}, compute ${d.computeCapability}, ${(d.totalMemory / 2 ** 30).toFixed(1)} GiB`)
  }
  process.stdout.write(lines.join('\n') + '\n')
}

function cudaLine (i: Info): string {
  const c = i.cuda
  if (c.usable) return `usable: CUDA runtime ${c.runtimeVersion}, ${c.devices.length} device(s)`
  if (!c.built) return `not available: ${c.reason}`
  if (!c.loaded) return `built, but the library could not be opened: ${c.reason}`
  return `built (CUDA runtime ${c.runtimeVersion}) and loaded, but cannot run here: ${c.reason}`
}
