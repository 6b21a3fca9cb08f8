// A real Mosquitto for tests: TLS with required client certificates on 127.0.0.1 and a free port,
// per-device ACLs, persistence in the temp directory (so an orchestrator's MQTT 5 session and its queued
// messages outlive a broker restart, as on a production broker), and stop/restart on the same port for
// outage tests. require-broker.ts decides whether a test file can use it. No tap import at run time
// here: the benchmark uses this broker too.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import * as fsp from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { makeTestPki, type TestPki } from './test-pki.js'

export const PREFIX = 'sdwan'
export const ORCHESTRATOR = 'orchestrator'

/** Returns the reason the broker tests cannot run here, or undefined. */
export function missingBrokerCapability(): string | undefined {
  if (spawnSync('mosquitto', ['-h']).error) return 'mosquitto is not installed (images/setup-host.sh installs it)'
  if (spawnSync('openssl', ['version']).error) return 'openssl is not installed'
  return undefined
}

export interface DeviceGrant {
  readonly site: string
  readonly device: string
}

/** Per-device ACL: a device writes only its own telemetry and reads only its own requests. */
export function aclFor(devices: readonly DeviceGrant[]): string {
  const lines = [`user ${ORCHESTRATOR}`, `topic readwrite ${PREFIX}/#`, '']
  for (const { site, device } of devices) {
    const root = `${PREFIX}/${site}/${device}`
    lines.push(`user ${device}`)
    for (const w of ['state', 'inventory', 'metrics/#', 'events', 'decisions', 'policy/outcome', 'reply/#']) lines.push(`topic write ${root}/${w}`)
    for (const r of ['cmd/#', 'policy/push']) lines.push(`topic read ${root}/${r}`)
    lines.push('')
  }
  return lines.join('\n')
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

export class TlsBroker {
  private child: ChildProcess | undefined
  private output = ''

  private constructor(
    readonly dir: string,
    readonly pki: TestPki,
    readonly port: number,
  ) {}

  get url(): string {
    return `mqtts://127.0.0.1:${this.port}`
  }

  log(): string {
    return this.output
  }

  /** `owner` stops the broker and removes its directory at teardown (a tap Test, or a benchmark's own list). */
  static async start(owner: Pick<Test, 'teardown'>, devices: readonly DeviceGrant[]): Promise<TlsBroker> {
    const dir = await fsp.mkdtemp(join(tmpdir(), 'sdwan-broker-test-'))
    const pki = makeTestPki(dir)
    await fsp.writeFile(join(dir, 'acl'), aclFor(devices))
    let broker: TlsBroker | undefined
    for (let attempt = 0; attempt < 5 && !broker; attempt++) {
      const candidate = new TlsBroker(dir, pki, await freePort())
      if (await candidate.run()) broker = candidate
    }
    if (!broker) throw new Error(`mosquitto would not start:\n${dir}`)
    const started = broker
    owner.teardown(async () => {
      await started.stop()
      await fsp.rm(dir, { recursive: true, force: true })
    })
    return started
  }

  private config(): string {
    return [
      // Started as root, mosquitto would drop to user 'mosquitto', who cannot read our 0700 temp directory.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      'per_listener_settings false',
      `listener ${this.port} 127.0.0.1`,
      `cafile ${this.pki.caFile}`,
      `certfile ${this.pki.server.certFile}`,
      `keyfile ${this.pki.server.keyFile}`,
      'require_certificate true',
      'use_identity_as_username true',
      'allow_anonymous false',
      `acl_file ${join(this.dir, 'acl')}`,
      'persistence true',
      `persistence_location ${this.dir}/`,
      'max_queued_messages 0',
      'max_inflight_messages 0',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      '',
    ].join('\n')
  }

  /** Starts mosquitto; false when the port was taken meanwhile. */
  private async run(): Promise<boolean> {
    const conf = join(this.dir, 'mosquitto.conf')
    await fsp.writeFile(conf, this.config())
    const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
    this.child = child
    let exited = false
    child.on('exit', () => (exited = true))
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (text: string) => (this.output += text))
    const started = this.output.length
    for (let waited = 0; waited < 10_000; waited += 25) {
      const log = this.output.slice(started)
      if (/mosquitto version \S+ running/.test(log)) return true
      if (exited) {
        if (/Address already in use/i.test(log)) return false
        throw new Error(`mosquitto exited: ${log}`)
      }
      await new Promise(r => setTimeout(r, 25))
    }
    child.kill('SIGKILL')
    throw new Error(`mosquitto not running after 10 s: ${this.output.slice(started)}`)
  }

  /** SIGTERM (mosquitto saves its persistence file on the way out), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    const child = this.child
    this.child = undefined
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }

  /** Starts again on the same port, with the same persistence. */
  async restart(): Promise<void> {
    await this.stop()
    for (let attempt = 0; attempt < 40; attempt++) {
      if (await this.run()) return
      await new Promise(r => setTimeout(r, 250))
    }
    throw new Error(`port ${this.port} stayed taken`)
  }
}

/** Polls `predicate` until true; the deadline is a safety net, never the thing under test. */
export async function waitFor(what: string, predicate: () => boolean, deadlineMs = 60_000): Promise<void> {
  for (let waited = 0; !predicate(); waited += 50) {
    if (waited > deadlineMs) throw new Error(`gave up waiting for ${what} after ${deadlineMs} ms`)
    await new Promise(r => setTimeout(r, 50))
  }
}
