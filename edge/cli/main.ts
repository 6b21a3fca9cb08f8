// The `sdwan-edge` entry point: picks the subcommand, parses its options strictly, runs it.
import { parseArgs } from 'node:util'
import { commands } from './commands/index.js'
import { UsageError, type CliIo } from './command.js'

const TOP_HELP = (): string =>
  [
    'usage: sdwan-edge COMMAND [options]',
    '',
    'SD-WAN edge firmware: probes uplinks, steers application classes onto tunnels and uplinks.',
    '',
    'commands:',
    ...commands.map(c => `  ${c.name.padEnd(12)} ${c.summary}`),
    '',
    "Run 'sdwan-edge COMMAND --help' for a command's options.",
  ].join('\n') + '\n'

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    ;(name === undefined ? io.stderr : io.stdout)(TOP_HELP())
    return name === undefined ? 2 : 0
  }
  const command = commands.find(c => c.name === name)
  if (!command) {
    io.stderr(`sdwan-edge: unknown command '${name}'\n\n${TOP_HELP()}`)
    return 2
  }
  const usageLine = command.help.split('\n')[0] ?? ''
  let parsed
  try {
    parsed = parseArgs({
      args: [...rest],
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    })
  } catch (err) {
    io.stderr(`sdwan-edge ${name}: ${(err as Error).message}\n${usageLine}\n`)
    return 2
  }
  if (parsed.values.help) {
    io.stdout(command.help.endsWith('\n') ? command.help : command.help + '\n')
    return 0
  }
  try {
    return await command.run(parsed, io)
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`sdwan-edge ${name}: ${err.message}\n${usageLine}\n`)
      return 2
    }
    throw err
  }
}
