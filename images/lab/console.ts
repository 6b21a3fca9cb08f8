// The interactive lab: the branch's live status every second, and commands to impair a provider.
import { createInterface } from 'node:readline'
import { statusText } from '../../edge/daemon/status.js'
import type { Branch } from './branch.js'
import { describeImpairment, type Impairment } from './impairments.js'
import { PROVIDERS, type ProviderName } from './topology.js'

export const CONSOLE_HELP = `commands:
  impair PROVIDER blackout | carrier-loss | loss PCT | delay MS | jitter MS
  restore PROVIDER          take every impairment off (PROVIDER: bb, lte, mpls)
  quit                      stop the daemon, tear the lab down (Ctrl-C does the same)
delay and jitter need netem, which this host kernel lacks (the VM lab has it: npm run lab:vm).`

/** Parses one console line; returns what to do or a message saying what is wrong. Pure. */
export function parseConsoleLine(line: string): { kind: 'impair'; provider: ProviderName; impairment: Impairment } | { kind: 'restore'; provider: ProviderName } | { kind: 'quit' } | { kind: 'help' } | { kind: 'error'; message: string } {
  const [verb, provider, what, arg] = line.trim().split(/\s+/)
  if (!verb || verb === 'help') return { kind: 'help' }
  if (verb === 'quit' || verb === 'exit') return { kind: 'quit' }
  if (verb !== 'impair' && verb !== 'restore') return { kind: 'error', message: `unknown command '${verb}'` }
  if (!PROVIDERS.includes(provider as ProviderName)) return { kind: 'error', message: `provider must be one of ${PROVIDERS.join(', ')} (got '${provider ?? ''}')` }
  const p = provider as ProviderName
  if (verb === 'restore') return { kind: 'restore', provider: p }
  const n = Number(arg)
  switch (what) {
    case 'blackout':
    case 'carrier-loss':
      return { kind: 'impair', provider: p, impairment: { kind: what } }
    case 'loss':
      return n > 0 && n <= 100 ? { kind: 'impair', provider: p, impairment: { kind: 'loss', percent: n } } : { kind: 'error', message: 'loss takes a percentage above 0, at most 100 (e.g. 0.5)' }
    case 'delay':
      return n > 0 ? { kind: 'impair', provider: p, impairment: { kind: 'delay', rttMs: n } } : { kind: 'error', message: 'delay takes a round-trip time in ms' }
    case 'jitter':
      return n > 0 ? { kind: 'impair', provider: p, impairment: { kind: 'jitter', jitterMs: n } } : { kind: 'error', message: 'jitter takes a time in ms' }
    default:
      return { kind: 'error', message: `impairment must be blackout, carrier-loss, loss, delay or jitter (got '${what ?? ''}')` }
  }
}

/** Runs until quit or Ctrl-C; the caller stops the branch afterwards. */
export async function runConsole(branch: Branch, out: NodeJS.WriteStream, input: NodeJS.ReadableStream): Promise<void> {
  let note = 'type a command (help for the list)'
  const draw = async (): Promise<void> => {
    const s = await branch.status().then(statusText, (err: Error) => `status unavailable: ${err.message}\n`)
    const screen = `${s}\n${note}\n> `
    out.write(out.isTTY ? `\x1b[H\x1b[2J${screen}` : screen)
  }
  const timer = setInterval(() => void draw(), out.isTTY ? 1000 : 5000)
  await draw()
  await new Promise<void>(resolve => {
    const rl = createInterface({ input })
    const done = (): void => {
      clearInterval(timer)
      rl.close()
      resolve()
    }
    process.once('SIGINT', done)
    rl.on('close', done)
    rl.on('line', line => {
      const cmd = parseConsoleLine(line)
      if (cmd.kind === 'quit') return done()
      if (cmd.kind === 'help') note = CONSOLE_HELP
      else if (cmd.kind === 'error') note = `${cmd.message}\n${CONSOLE_HELP}`
      else {
        const action = cmd.kind === 'impair' ? branch.lab.impair(cmd.provider, cmd.impairment) : branch.lab.restore(cmd.provider)
        const what = cmd.kind === 'impair' ? `${describeImpairment(cmd.impairment)} on ${cmd.provider}` : `${cmd.provider} restored`
        action.then(
          () => (note = `${what}: watch the paths and classes react`),
          (err: Error) => (note = `${what} failed: ${err.message}`),
        )
      }
      void draw()
    })
  })
}
