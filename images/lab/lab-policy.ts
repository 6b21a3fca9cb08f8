// The site policy the lab's edge runs, made from the lab topology so addresses live in one place. Pure:
// returns the YAML text (the daemon reads a file, as on a real box). Direct-internet paths over the three
// providers; the test harness can tighten the failover timers so scenarios stay short.
import type { Topology } from './topology.js'

export interface LabPolicyOptions {
  /** Probe interval on the unmetered uplinks (ms). */
  intervalMs?: number
  failover?: { holdDownMs?: number; failbackDelayMs?: number; brownoutConfirmMs?: number }
  serial?: number
}

export function labPolicy(topology: Topology, options: LabPolicyOptions = {}): string {
  const { bb, lte, mpls } = topology.uplinks
  const a = topology.addresses
  const f = { holdDownMs: 10000, failbackDelayMs: 30000, brownoutConfirmMs: 2000, ...options.failover }
  const failover = `{ holdDownMs: ${f.holdDownMs}, failbackDelayMs: ${f.failbackDelayMs}, brownoutConfirmMs: ${f.brownoutConfirmMs} }`
  const uplink = (name: string, kind: string, u: typeof bb, extra = '') =>
    `  - { name: ${name}, kind: ${kind}, interface: ${u.ifname}, addressing: { mode: static, ipv4: ${u.address}/${u.prefixLength}, gateway4: ${u.gateway} }${extra} }`
  return `# The lab branch (images/lab/topology.ts), made by images/lab/lab-policy.ts.
version: 1
serial: ${options.serial ?? 1}
site: { id: lab-store, name: Lab retail store }
device: { id: lab-edge }
lan:
  - { name: store, interface: br-store, prefixes: [${a.storeGateway.replace(/\.1$/, '.0')}/24] }
  - { name: guest, interface: br-guest, prefixes: [${a.guestGateway.replace(/\.1$/, '.0')}/24], isolated: true }
uplinks:
${uplink('bb', 'broadband', bb)}
${uplink('lte', 'lte', lte, ', metered: true')}
${uplink('mpls', 'mpls', mpls)}
classes:
  - name: pos
    match: [{ segments: [store], destinationPrefixes: [${a.internetHost}/32], protocol: udp, ports: [7000] }]
    sla: { maxLatencyMs: 150, maxLossPct: 2 }
    paths: [bb, lte]
    failover: ${failover}
  - name: voip
    match: [{ segments: [store], protocol: udp, ports: [5060, "10000-20000"] }]
    sla: { maxLatencyMs: 150, maxJitterMs: 30, maxLossPct: 1, minMos: 3.6 }
    paths: [lte, bb]
    failover: ${failover}
  - name: erp
    match: [{ segments: [store], destinationPrefixes: [10.20.0.0/16] }]
    sla: { maxLatencyMs: 300, maxLossPct: 2 }
    paths: [mpls]
  - name: guest
    match: [{ segments: [guest] }]
    paths: [bb, lte]
    failover: { sticky: false }
  - name: store-web
    match: [{ segments: [store] }]
    paths: [bb, lte]
probes:
  intervalMs: ${options.intervalMs ?? 50}
  meteredIntervalMs: ${options.intervalMs ?? 50}
  downAfterMisses: 4
  upAfterReplies: 5
  reflectors: [{ address: ${a.internetHost} }]
  uplinks:
    mpls: { reflectors: [{ address: ${a.hubMpls} }] }
`
}
