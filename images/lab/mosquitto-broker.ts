// Starts a real Mosquitto broker inside a lab namespace, listening only on one lab address, and stops
// it. Its config lives in a fresh temporary directory; persistence is off so nothing outlives the run.
import * as fsp from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnLongRunning, type SpawnLongRunning } from './long-running-process.js'

export interface BrokerOptions {
  /** Network namespace to run in (e.g. `lab.topology.namespaces.hub`). */
  readonly namespace: string
  /** The lab address to listen on; Mosquitto binds this address only. */
  readonly address: string
  /** A fixed port; when absent a random free port in 20000–59999 is chosen (retried if taken). */
  readonly port?: number
}

export interface Broker {
  readonly address: string
  readonly port: number
  readonly url: string
  /** The broker's log so far, for failure messages. */
  log(): string
  /** SIGTERM, then SIGKILL after 2 s; removes the config directory. Safe to call twice. */
  stop(): Promise<void>
}

export interface BrokerDeps {
  readonly spawn: SpawnLongRunning
  readonly makeConfigDir: () => Promise<string>
  readonly writeFile: (path: string, text: string) => Promise<void>
  readonly removeDir: (path: string) => Promise<void>
  readonly randomPort: () => number
  readonly delay: (ms: number) => Promise<void>
}

export class BrokerStartError extends Error {
  override readonly name = 'BrokerStartError'
}

export function defaultBrokerDeps(): BrokerDeps {
  return {
    spawn: spawnLongRunning,
    makeConfigDir: () => fsp.mkdtemp(join(tmpdir(), 'sdwan-lab-mosquitto-')),
    writeFile: (path, text) => fsp.writeFile(path, text),
    removeDir: path => fsp.rm(path, { recursive: true, force: true }),
    randomPort: () => 20000 + Math.floor(Math.random() * 40000),
    delay: ms => new Promise(resolve => setTimeout(resolve, ms)),
  }
}

export function mosquittoConfig(address: string, port: number): string {
  return [
    `listener ${port} ${address}`,
    'allow_anonymous true',
    'persistence false',
    // stderr, not stdout: mosquitto's stdout is block-buffered on a pipe, so "running" would arrive only at exit.
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'log_timestamp false',
    '',
  ].join('\n')
}

const READY = /mosquitto version \S+ running/
const PORT_TAKEN = /Address already in use/i
const START_TIMEOUT_MS = 5000

async function startOnce(options: BrokerOptions, port: number, dir: string, deps: BrokerDeps): Promise<Broker | 'port-taken'> {
  const config = join(dir, `mosquitto-${port}.conf`)
  await deps.writeFile(config, mosquittoConfig(options.address, port))
  const child = deps.spawn(['ip', 'netns', 'exec', options.namespace, 'mosquitto', '-c', config])
  let log = ''
  let exitCode: number | null | undefined
  child.onStdout(text => (log += text))
  child.onStderr(text => (log += text))
  const exited = child.exited.then(
    code => (exitCode = code),
    (error: Error) => {
      log += error.message
      exitCode = null
    },
  )
  for (let waited = 0; !READY.test(log); waited += 25) {
    if (exitCode !== undefined) {
      if (PORT_TAKEN.test(log)) return 'port-taken'
      throw new BrokerStartError(`mosquitto in ${options.namespace} on ${options.address}:${port} exited ${exitCode}: ${log.trim()}`)
    }
    if (waited >= START_TIMEOUT_MS) {
      child.kill('SIGKILL')
      throw new BrokerStartError(`mosquitto in ${options.namespace} not running after ${START_TIMEOUT_MS} ms: ${log.trim()}`)
    }
    await deps.delay(25)
  }
  let stopped: Promise<void> | undefined
  return {
    address: options.address,
    port,
    url: `mqtt://${options.address}:${port}`,
    log: () => log,
    stop: () =>
      (stopped ??= (async () => {
        child.kill('SIGTERM')
        const killed = await Promise.race([exited.then(() => true), deps.delay(2000).then(() => false)])
        if (!killed) {
          child.kill('SIGKILL')
          await exited
        }
        await deps.removeDir(dir)
      })()),
  }
}

export async function startBroker(options: BrokerOptions, deps: BrokerDeps = defaultBrokerDeps()): Promise<Broker> {
  const dir = await deps.makeConfigDir()
  try {
    const attempts = options.port === undefined ? 5 : 1
    for (let attempt = 0; attempt < attempts; attempt++) {
      const port = options.port ?? deps.randomPort()
      const broker = await startOnce(options, port, dir, deps)
      if (broker !== 'port-taken') return broker
    }
    throw new BrokerStartError(`mosquitto in ${options.namespace}: ${attempts} port(s) on ${options.address} were taken`)
  } catch (error) {
    await deps.removeDir(dir)
    throw error
  }
}
