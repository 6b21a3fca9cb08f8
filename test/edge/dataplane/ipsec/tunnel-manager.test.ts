// IpsecTunnelManager and IpsecTunnel against fakes (a scripted VICI peer per connection, a fake supervisor,
// fake devices, timers fired by hand): slots and ports, idempotent set, state and listeners on every
// up/down, re-initiation with capped backoff, reload after a charon restart, removal, and a tunnel that
// cannot start reported down without stopping the others and started on a later try. No real time passes.
import t from 'tap'
import { parsePolicy } from '../../../../edge/config/load.js'
import type { SitePolicy } from '../../../../edge/config/policy.js'
import type { CharonInstance } from '../../../../edge/dataplane/ipsec/charon-config.js'
import type { CharonSupervisorOptions } from '../../../../edge/dataplane/ipsec/charon-supervisor.js'
import { IpsecTunnelManager } from '../../../../edge/dataplane/ipsec/tunnel-manager.js'
import { tunnelPlanOptions } from '../../../../edge/dataplane/ipsec/node-tunnels.js'
import type { TunAdoption, TunDevicePort } from '../../../../edge/dataplane/ipsec/tun-device.js'
import { LibipsecDevices, XfrmDevices } from '../../../../edge/dataplane/ipsec/tunnel-devices.js'
import type { XfrmInterface, XfrmInterfacePort } from '../../../../edge/dataplane/ipsec/xfrm-interface.js'
import type { IpsecBackend } from '../../../../edge/dataplane/ipsec/ipsec-backend.js'
import type { ViciMessage, ViciMessageInput } from '../../../../edge/dataplane/vici/message.js'
import { ipsecConns } from '../../../../edge/dataplane/tunnels.js'
import { FakeCharon } from '../vici/helpers/fake-charon.js'
import { FakeTimers } from '../vici/helpers/fake-timers.js'

const POLICY = `version: 1
serial: 1
site: { id: fake }
device: { id: edge.fake }
lan:
  - { name: store, interface: br0, prefixes: [10.1.0.0/24] }
  - { name: guest, interface: br1, prefixes: [10.9.0.0/24], isolated: true }
uplinks:
  - { name: bb, kind: broadband, interface: eth0, addressing: { mode: static, ipv4: 192.0.2.2/24, gateway4: 192.0.2.1 } }
  - { name: lte, kind: lte, interface: eth1, addressing: { mode: static, ipv4: 198.51.100.2/24, gateway4: 198.51.100.1 } }
hubs:
  - { name: dc1, addresses: [203.0.113.10], ikeId: dc1.fake }
tunnels:
  - { name: dc1-bb, type: ipsec, hub: dc1, uplink: bb, inner: { local: 10.255.0.2/30, remote: 10.255.0.1 }, remotePrefixes: [10.20.0.0/16], ipsec: { auth: { pskFile: /psk/dc1 } } }
  - { name: dc1-lte, type: ipsec, hub: dc1, uplink: lte, inner: { local: 10.255.0.6/30, remote: 10.255.0.5 }, remotePrefixes: [10.20.0.0/16], ipsec: { auth: { pskFile: /psk/missing } } }
classes:
  - { name: pos, match: [{ segments: [store] }], paths: [dc1-bb, dc1-lte] }
`

interface FakeCharonProcess {
  instance: CharonInstance
  options: CharonSupervisorOptions
  pid: number
  stopped: boolean
}

function harness(backend: IpsecBackend = 'libipsec', leftXfrm: readonly string[] = []) {
  const parsed = parsePolicy('fake.yaml', POLICY)
  if (!parsed.ok) throw new TypeError(JSON.stringify(parsed.errors))
  const policy: SitePolicy = parsed.policy
  const conns = ipsecConns(policy, {})
  const timers = new FakeTimers()
  const charons: FakeCharonProcess[] = []
  const peers: FakeCharon[] = []
  const commands: Array<{ socket: string; command: string; message: ViciMessage }> = []
  let initiateOk = true
  let lateFile = false
  let tunMissing = 0
  let nextPid = 100
  const adopted: TunAdoption[] = []
  const anchorsRemoved: string[] = []
  const devices: TunDevicePort = {
    tunsOf: async () => (tunMissing-- > 0 ? [] : ['ipsec0']),
    adopt: async a => void adopted.push(a),
    removeAnchor: async tun => void anchorsRemoved.push(tun),
    sweepAnchors: async () => [],
    close: () => undefined,
  }
  /** Fake xfrm interfaces by name, and every call in order, charon starts included. */
  const xfrm = new Map<string, XfrmInterface>(leftXfrm.map((name, i) => [name, { name, index: 50 + i, ifId: 9 + i, link: 0, mtu: 1400, up: true, addresses: [] }]))
  const events: string[] = []
  const xfrmPort: XfrmInterfacePort = {
    ensure: async spec => {
      events.push(`ensure ${spec.name} if_id ${spec.ifId} mtu ${spec.mtu}`)
      xfrm.set(spec.name, { name: spec.name, index: 60, ifId: spec.ifId, link: 0, mtu: spec.mtu, up: true, addresses: spec.addresses })
    },
    remove: async name => void (events.push(`remove ${name}`), xfrm.delete(name)),
    list: async () => [...xfrm.values()],
    close: () => undefined,
  }
  const record = (socket: string, command: string, reply: () => ViciMessageInput) => (message: ViciMessage) => {
    commands.push({ socket, command, message })
    return { response: reply() }
  }
  const manager = new IpsecTunnelManager(tunnelPlanOptions(policy, '/run/fake', { backend }), {
    policy: () => policy,
    readFile: async path => {
      if (path === '/psk/dc1') return Buffer.from('secret-1\n')
      if (path === '/psk/missing' && lateFile) return Buffer.from('secret-2\n')
      throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: 'ENOENT' })
    },
    mkdir: async () => undefined,
    supervise: (instance, options) => {
      const c: FakeCharonProcess = { instance, options, pid: 0, stopped: false }
      charons.push(c)
      events.push(`charon ${instance.name}`)
      return {
        get pid() {
          return c.pid
        },
        recentLog: [],
        start: async () => {
          c.pid = nextPid++
          options.onEvent?.({ kind: 'ready', pid: c.pid, version: { daemon: 'charon', version: '5.9.8', sysname: '', release: '', machine: '' } })
        },
        stop: async () => {
          c.stopped = true
          options.onEvent?.({ kind: 'exited', pid: c.pid, code: 0, signal: null, willRestart: false })
        },
      }
    },
    connectVici: socket => async () => {
      const peer = new FakeCharon({
        'load-shared': record(socket, 'load-shared', () => ({ success: 'yes' })),
        'load-conn': record(socket, 'load-conn', () => ({ success: 'yes' })),
        initiate: record(socket, 'initiate', () => (initiateOk ? { success: 'yes' } : { success: 'no', errmsg: 'establishing CHILD_SA failed' })),
        'list-sas': record(socket, 'list-sas', () => ({})),
      })
      peers.push(peer)
      return peer.socket
    },
    devices: backend === 'kernel' ? new XfrmDevices(xfrmPort) : new LibipsecDevices(devices),
    timers,
    initiateBackoff: { initialMs: 50, maxMs: 400 },
    log: () => undefined,
  })
  let changes = 0
  manager.onChange(() => changes++)
  /** Sends a child-updown on every event connection (as charon does to each registered client). */
  const updown = (up: boolean, conn: string) => {
    for (const p of peers.filter(p => p.registered.has('child-updown'))) {
      p.send({ type: 'event', name: 'child-updown', message: { ...(up ? { up: 'yes' } : {}), [conn]: { uniqueid: '1', state: 'ESTABLISHED', 'child-sas': { [`${conn}-1`]: { name: conn, uniqueid: '1', state: up ? 'INSTALLED' : 'DELETING' } } } } })
    }
  }
  const settle = () => new Promise<void>(resolve => setImmediate(resolve))
  return { policy, conns, manager, charons, commands, adopted, anchorsRemoved, xfrm, events, timers, updown, settle, changes: () => changes, setInitiate: (ok: boolean) => (initiateOk = ok), fileAppears: () => (lateFile = true), loseTunOnce: () => (tunMissing = 1) }
}

t.test('set starts one charon per tunnel on its own slot, loads and initiates', async t => {
  const h = harness()
  const bb = h.conns.find(c => c.name === 'dc1-bb')!
  await h.manager.set([bb])
  await h.settle()
  t.equal(h.charons.length, 1)
  t.equal(bb.mtu, 1435)
  t.match(h.charons[0]!.instance, { name: 'dc1-bb', ikePort: 14500, natTPort: 14501, installRoutes: false, routeRuleFwmark: '0xffffffff/0xffffffff', routingTable: 1999, routingTablePrio: 9999 })
  t.same(h.adopted, [{ tun: 'ipsec0', name: 'sw-dc1-bb', mtu: 1400, addresses: ['10.255.0.2/30'] }], 'the TUN becomes sw-dc1-bb with the inner address')
  const conn = h.commands.find(c => c.command === 'load-conn')!.message['dc1-bb'] as ViciMessage
  t.match(conn, { local_addrs: ['192.0.2.2'], remote_addrs: ['203.0.113.10'], remote_port: '4500', local: { id: 'edge.fake' }, remote: { id: 'dc1.fake' } })
  t.same((conn['children'] as ViciMessage)['dc1-bb'], {
    mode: 'tunnel',
    local_ts: ['10.1.0.0/24', '10.255.0.2/32'],
    remote_ts: ['10.20.0.0/16', '10.255.0.1/32'],
    esp_proposals: ['aes256gcm16-ecp384'],
    start_action: 'none',
    dpd_action: 'clear',
  }, 'guest (isolated) is not in the selectors')
  t.same(h.commands.find(c => c.command === 'load-shared')!.message['data'], 'secret-1', 'the PSK file, trimmed')
  t.ok(h.commands.some(c => c.command === 'initiate'))
  t.same(h.manager.state('dc1-bb'), { up: true, reason: 'CHILD_SA installed' })
  t.equal(h.changes(), 1, 'listeners hear the tunnel come up')

  await h.manager.set([bb])
  t.equal(h.charons.length, 1, 'the same conns again change nothing')
  await h.manager.stop()
})

t.test('kernel backend: an xfrm interface per tunnel before its charon, if_id on the conn, kept across charon restarts', async t => {
  const h = harness('kernel', ['sw-old', 'sw-dc1-bb', 'eth9'])
  const bb = h.conns.find(c => c.name === 'dc1-bb')!
  await h.manager.set([bb])
  await h.settle()
  t.equal(h.manager.backend, 'kernel')
  t.same(h.events, ['remove sw-old', `ensure sw-dc1-bb if_id ${0x5d000001} mtu 1435`, 'charon dc1-bb'], "a crashed run's stray xfrm interface is swept (a wanted one is taken over, others' names are not ours); the interface exists before charon, at the uncapped MTU")
  t.match(h.charons[0]!.instance, { name: 'dc1-bb', ipsec: 'kernel', ikePort: 14500, natTPort: 14501 })
  t.same(h.adopted, [], 'no TUN to adopt')
  const conn = h.commands.find(c => c.command === 'load-conn')!.message['dc1-bb'] as ViciMessage
  t.match(conn, { local_port: '14501', remote_port: '4500' }, 'the conn on the NAT-T socket, where the kernel decapsulates ESP')
  t.match((conn['children'] as ViciMessage)['dc1-bb'], { mode: 'tunnel', if_id_in: String(0x5d000001), if_id_out: String(0x5d000001), local_ts: ['10.1.0.0/24', '10.255.0.2/32'] })
  t.same(h.manager.state('dc1-bb'), { up: true, reason: 'CHILD_SA installed' })

  const c = h.charons[0]!
  c.options.onEvent?.({ kind: 'exited', pid: c.pid, code: null, signal: 'SIGKILL', willRestart: true })
  await h.settle()
  t.match(h.manager.state('dc1-bb'), { up: false, reason: 'charon exited (SIGKILL); restarting' })
  t.ok(h.xfrm.has('sw-dc1-bb'), 'the interface stays while charon is down: with no SA it drops, never leaks')
  c.pid = 999
  c.options.onEvent?.({ kind: 'ready', pid: 999, version: { daemon: 'charon', version: '5.9.8', sysname: '', release: '', machine: '' } })
  for (let i = 0; i < 5; i++) await h.settle()
  t.equal(h.manager.state('dc1-bb')?.up, true, 'the restarted charon is configured and initiated')
  await h.manager.stop()
  t.same(h.events.slice(-1), ['remove sw-dc1-bb'], 'stopping the tunnel removes its interface')
  t.same([...h.xfrm.keys()], ['eth9'])
})

t.test('down events re-initiate with capped backoff; a restarted charon is reloaded', async t => {
  const h = harness()
  const bb = h.conns.find(c => c.name === 'dc1-bb')!
  await h.manager.set([bb])
  await h.settle()
  t.equal(h.manager.state('dc1-bb')?.up, true)

  h.setInitiate(false)
  h.updown(false, 'dc1-bb')
  await h.settle()
  t.same(h.manager.state('dc1-bb'), { up: false, reason: 'CHILD_SA down' })
  t.equal(h.changes(), 2, 'listeners hear it go down')
  for (let i = 0; i < 4; i++) {
    h.timers.fireNext()
    await h.settle()
    await h.settle()
  }
  t.match(h.manager.state('dc1-bb')?.reason, /initiate failed: VICI initiate failed: establishing CHILD_SA failed/)
  t.same(h.timers.scheduled.slice(-5), [50, 100, 200, 400, 400], 'backoff doubles up to its cap')
  h.setInitiate(true)
  h.timers.fireNext()
  await h.settle()
  await h.settle()
  t.equal(h.manager.state('dc1-bb')?.up, true, 'up again once initiate succeeds')

  const loadsBefore = h.commands.filter(c => c.command === 'load-conn').length
  const c = h.charons[0]!
  c.options.onEvent?.({ kind: 'exited', pid: c.pid, code: null, signal: 'SIGKILL', willRestart: true })
  t.match(h.manager.state('dc1-bb'), { up: false, reason: 'charon exited (SIGKILL); restarting' })
  t.same(h.anchorsRemoved, ['ipsec0'], 'the dead charon’s route anchor is removed')
  c.pid = 999
  c.options.onEvent?.({ kind: 'ready', pid: 999, version: { daemon: 'charon', version: '5.9.8', sysname: '', release: '', machine: '' } })
  for (let i = 0; i < 5; i++) await h.settle()
  t.equal(h.commands.filter(c => c.command === 'load-conn').length, loadsBefore + 1, 'the conn is loaded into the new charon')
  t.equal(h.adopted.length, 2, 'its TUN is adopted again')
  t.equal(h.manager.state('dc1-bb')?.up, true, 'and initiated')
  await h.manager.stop()
})

t.test('removal and a tunnel that cannot start', async t => {
  const h = harness()
  await t.rejects(h.manager.set(h.conns), { name: 'TunnelSetError', message: /dc1-lte: ENOENT/ }, 'the missing PSK file is reported')
  await h.settle()
  t.equal(h.manager.state('dc1-bb')?.up, true, 'the other tunnel started anyway')
  t.match(h.manager.state('dc1-lte'), { up: false, reason: /ENOENT/ }, 'the failed one is reported down, with why')
  t.same(h.timers.pendingDelays(), [50], 'and tried again later')
  h.timers.fireNext()
  for (let i = 0; i < 4; i++) await h.settle()
  t.match(h.manager.state('dc1-lte'), { up: false, reason: /ENOENT/ }, 'still missing')
  t.same(h.timers.pendingDelays(), [100], 'the next try backs off')
  h.fileAppears()
  h.timers.fireNext()
  for (let i = 0; i < 6; i++) await h.settle()
  t.same(h.manager.state('dc1-lte'), { up: true, reason: 'CHILD_SA installed' }, 'started once its PSK file is there')
  t.equal(h.charons.length, 2)
  t.equal(h.charons[1]!.instance.ikePort, 14502, 'on a slot of its own')
  await h.manager.set([])
  t.ok(h.charons.every(c => c.stopped), 'a tunnel no longer wanted has its charon stopped')
  t.same(h.anchorsRemoved, ['ipsec0', 'ipsec0'], 'and its route anchor removed')
  t.equal(h.manager.state('dc1-bb'), undefined)
  t.equal(h.manager.state('dc1-lte'), undefined)
})

t.test('a tunnel that has never been up has no verdict: its path is left to the probes', async t => {
  const h = harness()
  h.setInitiate(false)
  await h.manager.set([h.conns.find(c => c.name === 'dc1-bb')!])
  await h.settle()
  await h.settle()
  t.equal(h.manager.state('dc1-bb'), undefined, 'a failed first initiate reports nothing')
  t.equal(h.changes(), 0, 'and wakes no listener')
  t.same(h.timers.pendingDelays(), [50], 'it is retried')
  h.setInitiate(true)
  h.timers.fireNext()
  await h.settle()
  await h.settle()
  t.same(h.manager.state('dc1-bb'), { up: true, reason: 'CHILD_SA installed' })
  t.equal(h.changes(), 1)
  await h.manager.stop()
  t.equal(h.changes(), 2, 'stopping a tunnel that was up is a change')
})

t.test('a restarted charon that cannot be configured is configured again', async t => {
  const h = harness()
  await h.manager.set([h.conns.find(c => c.name === 'dc1-bb')!])
  await h.settle()
  const c = h.charons[0]!
  c.options.onEvent?.({ kind: 'exited', pid: c.pid, code: null, signal: 'SIGKILL', willRestart: true })
  h.loseTunOnce()
  c.pid = 555
  c.options.onEvent?.({ kind: 'ready', pid: 555, version: { daemon: 'charon', version: '5.9.8', sysname: '', release: '', machine: '' } })
  for (let i = 0; i < 4; i++) await h.settle()
  t.match(h.manager.state('dc1-bb'), { up: false, reason: /configuring the restarted charon failed: .*holds no TUN device/ })
  t.same(h.timers.pendingDelays(), [50], 'tried again after a backoff')
  h.timers.fireNext()
  for (let i = 0; i < 6; i++) await h.settle()
  t.same(h.manager.state('dc1-bb'), { up: true, reason: 'CHILD_SA installed' })
  await h.manager.stop()
})
