#!/usr/bin/env node
// The `foveal` command: a subcommand per job, each with --help. A mistake the user can fix
// ends the command with one line on stderr (`foveal train: --epochs must be …`) and a
// non-zero exit: 2 for a wrong command line, 1 for what it points at (missing or malformed
// data, a file that is not a PNG or not a checkpoint). FOVEAL_DEBUG=1 adds the stack.
import { bench } from './commands/bench'
import { CliError } from './commands/common'
import { compare } from './commands/compare'
import { info } from './commands/info'
import { predict } from './commands/predict'
import { train } from './commands/train'

const HELP = `Usage: foveal <command> [options]

Commands:
  train     train an attention CNN on MNIST (or CIFAR-10) and write runs/<name>/:
            the model, metrics, loss/accuracy curves and attention heat-maps
  predict   classify PNG pictures with a trained model, with its attention drawn
  compare   train several models on the same data and seed: one table of accuracy,
            parameters, time and images/s
  bench     run the benchmark suites (from a clone of the repository)
  info      what foveal found on this host: version, binary, CPU features and the
            instruction set in use, threads, memory pool, CUDA library and devices
  help      this text

\`foveal <command> --help\` describes each command's options.
`

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = { train, predict, compare, bench, info }

async function main (argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(HELP)
    return 0
  }
  const run = COMMANDS[cmd]
  if (run === undefined) {
    process.stderr.write(`foveal: unknown command '${cmd}' (commands: ${Object.keys(COMMANDS).join(', ')}; see foveal --help)\n`)
    return 2
  }
  try {
    return await run(rest)
  } catch (err) {
    const e = err as Error
    process.stderr.write(`foveal ${cmd}: ${oneLine(e.message)}\n`)
    if (process.env.FOVEAL_DEBUG) process.stderr.write(`${e.stack ?? ''}\n`)
    return err instanceof CliError ? err.exitCode : 1
  }
}

function oneLine (s: string): string {
  return s.replace(/\s*\n\s*/g, ' ')
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (err) => {
  process.stderr.write(`foveal: ${String(err)}\n`)
  process.exitCode = 1
})
