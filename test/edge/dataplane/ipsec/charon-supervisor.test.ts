// CharonSupervisor with a fake process, a fake VICI peer and hand-driven timers.
import t from 'tap'
import { EventEmitter } from 'node:events'
import { PassThrough } from 'node:stream'
import type { CharonInstance } from '../../../../edge/dataplane/ipsec/charon-config.js'
import { CharonSupervisor, type CharonProcess, type CharonSupervisorEvent } from '../../../../edge/dataplane/ipsec/charon-supervisor.js'
import type { Timers } from '../../../../edge/dataplane/vici/retry.js'
import { FakeCharon } from '../vici/helpers/fake-charon.js'
import { FakeTimers, ImmediateTimers } from '../vici/helpers/fake-timers.js'
import { Recorder } from '../vici/helpers/recorder.js'

const instance: CharonInstance = {
  name: 'wan1',
  ipsec: 'libipsec',
  netns: 'edge-wan1',
  confPath: '/run/sdwan/wan1/strongswan.conf',
  viciSocketPath: '/run/sdwan/wan1/charon.vici',
  ikePort: 14500,
  natTPort: 14501,
  routingTable: 1101,
  routingTablePrio: 1101,
  installRoutes: true,
}

class FakeProcess extends EventEmitter implements CharonProcess {
  readonly stdout = new PassThrough()
  readonly stderr = new PassThrough()
  readonly signals: string[] = []
  /** Whether VICI answers yet, and whether SIGTERM makes it exit. */
  listening = false
  obeysSigterm = true
  constructor(readonly pid: number) {
    super()
  }
  kill(signal: NodeJS.Signals): boolean {
    this.signals.push(signal)
    if (signal === 'SIGKILL' || this.obeysSigterm) this.die(null, signal)
    return true
  }
  die(code: number | null, signal: string | null): void {
    this.listening = false
    setImmediate(() => this.emit('exit', code, signal))
  }
}

function harness(timers: Timers, opts: { listenAfterProbes?: number; now?: () => number } = {}) {
  const processes = new Recorder<FakeProcess>()
  const spawned: Array<{ command: string; args: readonly string[]; conf: string | undefined }> = []
  const files = new Map<string, string>()
  const events = new Recorder<CharonSupervisorEvent>()
  const logs: string[] = []
  let probes = 0
  const supervisor = new CharonSupervisor(
    instance,
    {
      spawn: (command, args, env) => {
        spawned.push({ command, args, conf: env['STRONGSWAN_CONF'] })
        const p = new FakeProcess(1000 + processes.items.length)
        processes.push(p)
        return p
      },
      writeFile: async (path, text) => void files.set(path, text),
      connectVici: path => async () => {
        const current = processes.items.at(-1)
        probes++
        if (path !== instance.viciSocketPath || !current) throw new Error('connect ENOENT')
        if (!current.listening && probes > (opts.listenAfterProbes ?? 0)) current.listening = true
        if (!current.listening) throw new Error('connect ECONNREFUSED')
        return new FakeCharon({ version: () => ({ response: { daemon: 'charon-systemd', version: '5.9.8', sysname: 'Linux', release: 'r', machine: 'm' } }) }).socket
      },
      timers,
      now: opts.now ?? (() => 0),
      env: { PATH: '/usr/bin' },
    },
    {
      readyProbe: { initialMs: 10, maxMs: 40 },
      readyAttempts: 5,
      restartBackoff: { initialMs: 100, maxMs: 400 },
      stableAfterMs: 60_000,
      stopGraceMs: 3000,
      onEvent: e => events.push(e),
      onLog: line => logs.push(line),
    },
  )
  return { supervisor, processes, spawned, files, events, logs }
}

t.test('start writes the config, spawns charon in the netns and waits until VICI answers', async t => {
  const timers = new ImmediateTimers()
  const h = harness(timers, { listenAfterProbes: 2 })
  const version = await h.supervisor.start()
  t.equal(version.version, '5.9.8')
  t.match(h.files.get(instance.confPath), /socket = unix:\/\/\/run\/sdwan\/wan1\/charon\.vici/)
  t.same(h.spawned, [{ command: 'ip', args: ['netns', 'exec', 'edge-wan1', '/usr/sbin/charon-systemd'], conf: instance.confPath }])
  t.same(timers.scheduled, [10, 20], 'two failed probes, backing off')
  t.same(h.events.items.map(e => e.kind), ['spawned', 'ready'])
  t.equal(h.supervisor.pid, 1000)
  h.processes.items[0]!.stderr.write('00[LIB] loaded plugins: charon-systemd vici\n')
  await new Promise(resolve => setImmediate(resolve))
  t.same(h.logs, ['00[LIB] loaded plugins: charon-systemd vici'], 'charon output is captured line by line')
  await t.rejects(h.supervisor.start(), { name: 'CharonAlreadyRunningError', pid: 1000 }, 'no second daemon')
  await h.supervisor.stop()
  await h.supervisor.start()
  t.equal(h.supervisor.pid, 1001, 'start after stop spawns a fresh charon')
  await h.supervisor.stop()
})

t.test('a charon that dies is restarted with capped backoff that resets once it ran long enough', async t => {
  const timers = new ImmediateTimers()
  let now = 0
  const h = harness(timers, { now: () => now })
  await h.supervisor.start()
  const restartDelays = (): number[] => h.events.items.flatMap(e => (e.kind === 'restart-scheduled' ? [e.delayMs] : []))
  for (let i = 0; i < 4; i++) {
    h.processes.items.at(-1)!.die(null, 'SIGKILL')
    await h.events.waitFor(e => e.kind === 'ready' && e.pid === 1001 + i)
  }
  t.same(restartDelays(), [100, 200, 400, 400], 'doubles up to the cap')
  t.ok(h.events.items.some(e => e.kind === 'exited' && e.pid === 1000 && e.willRestart && e.signal === 'SIGKILL'))
  now = 60_000
  h.processes.items.at(-1)!.die(1, null)
  await h.events.waitFor(e => e.kind === 'ready' && e.pid === 1005)
  t.same(restartDelays().at(-1), 100, 'after a stable run the backoff starts over')
  await h.supervisor.stop()
  t.same(h.processes.items.at(-1)!.signals, ['SIGTERM'])
})

t.test('stop sends SIGTERM, then SIGKILL after the grace time, and never restarts', async t => {
  const timers = new FakeTimers()
  const h = harness(timers)
  await h.supervisor.start()
  const p = h.processes.items[0]!
  p.obeysSigterm = false
  const stopped = h.supervisor.stop()
  await new Promise(resolve => setImmediate(resolve))
  t.same(p.signals, ['SIGTERM'])
  t.same(timers.pendingDelays(), [3000], 'grace timer running')
  timers.fireNext()
  await stopped
  t.same(p.signals, ['SIGTERM', 'SIGKILL'])
  t.match(h.events.items.at(-1), { kind: 'exited', willRestart: false })
  t.same(timers.pendingDelays(), [], 'no restart scheduled')
  t.equal(h.processes.items.length, 1)
})

t.test('a charon that exits during start fails start() with its log and is not restarted', async t => {
  const timers = new ImmediateTimers()
  const h = harness(timers, { listenAfterProbes: 100 })
  const starting = h.supervisor.start()
  const p = await h.processes.waitFor(() => true)
  p.stderr.write('00[LIB] plugin \'openssl\': failed to load\n')
  await new Promise(resolve => setImmediate(resolve))
  p.die(1, null)
  await t.rejects(starting, { name: 'CharonExitedError', instance: 'wan1', code: 1, message: /openssl/ })
  t.match(h.events.items.at(-1), { kind: 'exited', willRestart: false })
  t.equal(h.processes.items.length, 1)
})

t.test('a charon that never answers VICI is killed and start() fails', async t => {
  const timers = new ImmediateTimers()
  const h = harness(timers, { listenAfterProbes: 100 })
  await t.rejects(h.supervisor.start(), { name: 'CharonNotReadyError', attempts: 5, message: /ECONNREFUSED/ })
  t.same(h.processes.items[0]!.signals, ['SIGKILL'])
  t.same(timers.scheduled, [10, 20, 40, 40, 40])
})

t.test('without a netns charon runs directly', async t => {
  const timers = new ImmediateTimers()
  const h = harness(timers)
  const direct = new CharonSupervisor(
    { ...instance, netns: undefined },
    {
      spawn: (command, args) => {
        h.spawned.push({ command, args, conf: undefined })
        const p = new FakeProcess(7)
        p.listening = true
        h.processes.push(p)
        return p
      },
      writeFile: async () => undefined,
      connectVici: () => async () => new FakeCharon({ version: () => ({ response: { daemon: 'd', version: 'v', sysname: 's', release: 'r', machine: 'm' } }) }).socket,
      timers,
      now: () => 0,
      env: {},
    },
    { charonPath: '/opt/charon' },
  )
  await direct.start()
  t.same(h.spawned, [{ command: '/opt/charon', args: [], conf: undefined }])
  await direct.stop()
})

t.test('a charon that cannot be spawned fails start() with the spawn error in its log', async t => {
  const timers = new ImmediateTimers()
  const h = harness(timers, { listenAfterProbes: 100 })
  const starting = h.supervisor.start()
  const p = await h.processes.waitFor(() => true)
  p.emit('error', Object.assign(new Error('spawn ip ENOENT'), { code: 'ENOENT' }))
  await t.rejects(starting, { name: 'CharonExitedError', code: null, message: /spawn ip ENOENT/ })
  t.same(h.events.items.filter(e => e.kind === 'exited').length, 1, 'one exit, no restart')
})
