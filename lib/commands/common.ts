// What every `foveal` command shares: flags through node:util's parseArgs in strict mode,
// checked values, and errors that end the command with one clear line.
import { parseArgs } from 'node:util'

/** An error the user can fix: printed as `foveal <command>: <message>`, exit code 2 (usage) or 1. */
export class CliError extends Error {
  constructor (message: string, readonly exitCode = 2) {
    super(message)
    this.name = 'CliError'
  }
}

export type OptionSpec = Record<string, { type: 'string' | 'boolean', short?: string, multiple?: boolean }>

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
}

/** parseArgs, strict, with its errors rewritten as one line that points at --help. */
export function parseFlags (command: string, args: string[], options: OptionSpec, allowPositionals = false): Parsed {
  try {
    const r = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals })
    return { values: r.values as Parsed['values'], positionals: r.positionals }
  } catch (err) {
    const e = err as { code?: string, message: string }
    const quoted = /'([^']+)'/.exec(e.message)?.[1]
    switch (e.code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        throw new CliError(`unknown option '${quoted ?? e.message}' (see foveal ${command} --help)`)
      case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
        throw new CliError(`unexpected argument '${quoted ?? ''}' (see foveal ${command} --help)`)
      default:
        if (/ambiguous/.test(e.message) && quoted !== undefined) {
          // `--lr -1`: parseArgs will not take a value that looks like a flag.
          throw new CliError(`option '${quoted}' needs a value; one that starts with '-' is written ${quoted}=-…`)
        }
        // Node's wording, first sentence only: "Option '--epochs <value>' argument missing".
        throw new CliError(e.message.split(/\.\s/)[0].replace(/^Option/, 'option'))
    }
  }
}

/** A string flag's value, or `fallback` when it was not given. */
export function str (p: Parsed, name: string, fallback?: string): string | undefined {
  const v = p.values[name]
  return typeof v === 'string' ? v : fallback
}

/** An integer ≥ min (1: "a positive integer", 0: "a non-negative integer"). */
export function intFlag (p: Parsed, name: string, min: number, fallback: number): number
export function intFlag (p: Parsed, name: string, min: number, fallback?: number): number | undefined
export function intFlag (p: Parsed, name: string, min: number, fallback?: number): number | undefined {
  const v = str(p, name)
  if (v === undefined) return fallback
  const what = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer ≥ ${min}`
  if (!/^\s*[+]?\d+\s*$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min) {
    throw new CliError(`--${name} must be ${what}, got '${v}'`)
  }
  return Number(v)
}

/** A finite number > 0. */
export function positiveNumberFlag (p: Parsed, name: string): number | undefined
export function positiveNumberFlag (p: Parsed, name: string, fallback: number): number
export function positiveNumberFlag (p: Parsed, name: string, fallback?: number): number | undefined {
  const v = str(p, name)
  if (v === undefined) return fallback
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new CliError(`--${name} must be a positive number, got '${v}'`)
  return n
}

/** One of `choices`. */
export function choiceFlag<T extends string> (p: Parsed, name: string, choices: readonly T[], fallback: T): T {
  const v = str(p, name)
  if (v === undefined) return fallback
  if (!(choices as readonly string[]).includes(v)) throw new CliError(`--${name} must be one of ${choices.join(', ')}, got '${v}'`)
  return v as T
}

export function bool (p: Parsed, name: string): boolean {
  return p.values[name] === true
}

/** The command line as typed (for metrics.json), arguments with spaces quoted. */
export function commandLine (command: string, args: string[]): string {
  return ['foveal', command, ...args].map((a) => /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`).join(' ')
}
