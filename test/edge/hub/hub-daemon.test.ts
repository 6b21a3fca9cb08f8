// The hub shell against fakes of its side effects: start programs interfaces, rules and routes, nft,
// conns and the reflector; SA events move the spokes' routes to the first tunnel up; a reload adds and
// removes tunnels, and one the kernel refuses leaves the running policy in force; stop --flush removes
// everything of ours.
import t from 'tap'
import { createLogger } from '../../../edge/daemon/logger.js'
import type { FibRule, Route } from '../../../edge/dataplane/model.js'
import { describeRoute, routeKey, ruleKey, type KernelOp } from '../../../edge/dataplane/ops.js'
import type { ViciClient } from '../../../edge/dataplane/vici/client.js'
import { parseIkeSas, type IkeSaState } from '../../../edge/dataplane/vici/sa-state.js'
import type { XfrmInterface, XfrmInterfaceSpec } from '../../../edge/dataplane/ipsec/xfrm-interface.js'
import { KernelError } from '../../../edge/dataplane/errors.js'
import { HubDaemon } from '../../../edge/hub/hub-daemon.js'
import { parseHubPolicy } from '../../../edge/hub/load.js'
import type { HubPolicy } from '../../../edge/hub/policy.js'

const tunnel = (name: string, id: number, third: number): string =>
  `      - { name: ${name}, id: ${id}, ikeId: edge-1.${name}, auth: { pskFile: /psk }, inner: { local: 10.255.${third}.1/30, remote: 10.255.${third}.2 }, lanPrefixes: [10.42.0.0/24] }`
const policyText = (serial: number, tunnels: string[]): string =>
  `version: 1\nserial: ${serial}\ndevice: { id: hub-a, role: hub }\nikeId: hub.example.net\nunderlay: { addresses: [203.0.113.10] }\ndcPrefixes: [10.20.0.0/16]\nspokes:\n  - device: edge-1\n    tunnels:\n${tunnels.join('\n')}\n`
function policy(serial: number, tunnels: string[]): HubPolicy {
  const r = parseHubPolicy('hub.yaml', policyText(serial, tunnels), () => true)
  if (!r.ok) throw new Error(r.errors.map(e => e.message).join('\n'))
  return r.policy
}

function world() {
  const rules = new Map<string, FibRule>()
  const routes = new Map<string, Route>()
  const links = new Map<string, XfrmInterface>()
  const calls: string[] = []
  const sysctls = new Map<string, string>()
  let sas: IkeSaState[] = []
  let refuse: ((op: KernelOp) => boolean) | undefined
  const logLines: string[] = []
  const vici = {
    loadShared: async (s: { id?: string }) => void calls.push(`load-shared ${s.id}`),
    loadConn: async (name: string) => void calls.push(`load-conn ${name}`),
    unloadConn: async (name: string) => void calls.push(`unload-conn ${name}`),
    unloadShared: async (id: string) => void calls.push(`unload-shared ${id}`),
    terminate: async (req: { ike: string }) => void calls.push(`terminate ${req.ike}`),
    loadKey: async () => void calls.push('load-key'),
    listSas: async () => sas,
    close: () => undefined,
  }
  const reflectors: string[] = []
  const daemon = (p: HubPolicy) =>
    new HubDaemon(p, {
      kernel: {
        dump: async () => ({ rules: [...rules.values()], routes: [...routes.values()], greLinks: [], vxlanLinks: [] }),
        apply: async ops =>
          ops.map(op => {
            if (refuse?.(op)) return new KernelError('EINVAL', op.kind, 'rule', 'refused by the test')
            if (op.kind === 'add-rule') rules.set(ruleKey(op.rule), op.rule)
            if (op.kind === 'del-rule') rules.delete(ruleKey(op.rule))
            if (op.kind === 'add-route' || op.kind === 'replace-route') routes.set(routeKey(op.route), op.route)
            if (op.kind === 'del-route') routes.delete(routeKey(op.route))
            return undefined
          }),
      },
      nft: { load: async table => void calls.push(`nft load ${table}`), remove: async table => void calls.push(`nft remove ${table}`) },
      xfrm: {
        ensure: async (spec: XfrmInterfaceSpec) => void links.set(spec.name, { name: spec.name, index: links.size + 10, ifId: spec.ifId, link: 0, mtu: spec.mtu, up: true, addresses: spec.addresses }),
        remove: async name => void links.delete(name),
        list: async () => [...links.values()],
        close: () => undefined,
      },
      sysctl: async (path, value) => void sysctls.set(path, value),
      readFile: async path => {
        if (path !== '/psk') throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' })
        return Buffer.from('s3cret\n')
      },
      charon: { start: async () => void calls.push('charon start'), stop: async () => void calls.push('charon stop') },
      vici: async () => vici as unknown as ViciClient,
      reflect: async (address, port) => {
        reflectors.push(address)
        return { address, port, counters: { received: 0, replied: 0, sendErrors: 0, 'too-short': 0, 'would-amplify': 0, 'rate-limited': 0, 'bad-hmac': 0 }, close: async () => void reflectors.splice(reflectors.indexOf(address), 1) }
      },
      readAuthKey: async () => Buffer.alloc(16),
      counters: async () => undefined,
      log: createLogger('debug', false, { write: (s: string) => void logLines.push(s) }),
      wallNow: () => 1_000,
    })
  return {
    daemon,
    calls,
    sysctls,
    links,
    reflectors,
    logLines,
    spokesRoutes: () => [...routes.values()].filter(r => r.table === 2000).map(describeRoute),
    ruleCount: () => rules.size,
    routeCount: () => routes.size,
    setSas: (s: IkeSaState[]) => void (sas = s),
    refuseWith: (f: ((op: KernelOp) => boolean) | undefined) => void (refuse = f),
  }
}

const up = (...names: string[]): IkeSaState[] =>
  parseIkeSas(Object.fromEntries(names.map(n => [n, { uniqueid: '1', state: 'ESTABLISHED', 'remote-host': '192.0.2.1', 'child-sas': { [`${n}-1`]: { name: n, uniqueid: '2', state: 'INSTALLED' } } }])))

t.test('start, SA events, reload, refused reload, flush', async t => {
  const w = world()
  const hub = w.daemon(policy(1, [tunnel('bb', 1, 0), tunnel('lte', 2, 1)]))
  await hub.start()
  t.same([...w.links.keys()], ['swh1', 'swh2'])
  t.same([...w.sysctls], [['ipv4/ip_forward', '1'], ['ipv4/conf/swh1/rp_filter', '2'], ['ipv4/conf/swh2/rp_filter', '2']])
  t.same(w.spokesRoutes(), ['ipv4 table 2000 10.42.0.0/24 blackhole metric 0'], 'no tunnel up yet: blackholed')
  t.same(w.calls.splice(0), ['nft load sdwan_hub', 'charon start', 'load-shared psk-edge-1.bb', 'load-conn edge-1.bb', 'load-shared psk-edge-1.lte', 'load-conn edge-1.lte'])
  t.same(w.reflectors, ['10.255.0.1', '10.255.1.1', '203.0.113.10'])

  w.setSas(up('edge-1.lte'))
  await hub.refreshSas()
  t.same(w.spokesRoutes(), ['ipv4 table 2000 10.42.0.0/24 dev swh2 metric 0'], 'LTE up: the spoke by swh2')
  w.setSas(up('edge-1.lte', 'edge-1.bb'))
  await hub.refreshSas()
  t.same(w.spokesRoutes(), ['ipv4 table 2000 10.42.0.0/24 dev swh1 metric 0'], 'broadband up too: back to the first tunnel')
  t.ok(w.logLines.some(l => l.includes('"msg":"spoke tunnel up"') && l.includes('edge-1.bb')), 'logged')
  t.same((await hub.status()).tunnels.map(x => `${x.tunnel} ${x.state}`), ['bb up', 'lte up'])

  await hub.reload(policy(2, [tunnel('lte', 2, 1), tunnel('mpls', 3, 2)]))
  t.same([...w.links.keys()].sort(), ['swh2', 'swh3'], "bb's interface removed, mpls's added")
  t.same(w.calls.splice(0), ['nft load sdwan_hub', 'load-shared psk-edge-1.mpls', 'load-conn edge-1.mpls', 'terminate edge-1.bb', 'unload-conn edge-1.bb', 'unload-shared psk-edge-1.bb'], 'an unchanged conn is not loaded again')
  t.same([...w.reflectors].sort(), ['10.255.1.1', '10.255.2.1', '203.0.113.10'], 'the reflector follows the inner addresses')
  t.same(w.spokesRoutes(), ['ipv4 table 2000 10.42.0.0/24 dev swh2 metric 0'])

  w.refuseWith(op => op.kind === 'add-rule' && op.rule.table === 2004)
  await t.rejects(hub.reload(policy(3, [tunnel('lte', 2, 1), tunnel('mpls', 3, 2), tunnel('sat', 4, 3)])), /the kernel refused 1 of/)
  w.refuseWith(undefined)
  t.equal((await hub.status()).serial, 2, 'the running policy stays in force')
  t.same([...w.links.keys()].sort(), ['swh2', 'swh3'], "the refused policy's interface is removed again")
  t.notOk(w.calls.includes('load-conn edge-1.sat'), "the refused policy's conn was never loaded")

  await hub.stop(true)
  t.same([w.ruleCount(), w.routeCount(), w.links.size, w.reflectors.length], [0, 0, 0, 0], 'flushed')
  t.ok(w.calls.includes('charon stop') && w.calls.includes('nft remove sdwan_hub'))
})
