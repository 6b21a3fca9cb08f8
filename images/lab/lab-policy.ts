// The site policy the lab's edge runs, made from the lab topology so addresses live in one place. Pure:
// returns the YAML text (the daemon reads a file, as on a real box). The seed's story: POS rides IPsec to
// the data centre over broadband, fails over to IPsec over LTE and never leaves in the clear (no direct
// path: with both tunnels down it is dropped); VoIP and guest go straight out (guest never into a tunnel);
// ERP rides MPLS. The test harness can tighten the failover timers so scenarios stay short.
import type { Topology } from './topology.js'

/** The lab's IPsec tunnels to hub dc1, one per internet uplink; hub-ipsec.ts answers for them. */
export const LAB_TUNNELS = {
  'dc1-bb': { uplink: 'bb', edgeInner: '10.255.0.2/30', hubInner: '10.255.0.1' },
  'dc1-lte': { uplink: 'lte', edgeInner: '10.255.0.6/30', hubInner: '10.255.0.5' },
} as const
export type LabTunnelName = keyof typeof LAB_TUNNELS
/**
 * The plain GRE tunnel to dc1 across the MPLS underlay (images/lab/hub-gre.ts builds the hub's end), which
 * ERP rides when LabPolicyOptions.erpOverGre is set: fail closed, since MPLS carries nothing else to the DC.
 */
export const LAB_GRE_TUNNEL = { name: 'dc1-gre', uplink: 'mpls', edgeInner: '10.255.0.10/30', hubInner: '10.255.0.9', key: 4242 } as const
export const LAB_EDGE_ID = 'lab-edge.example'
export const LAB_HUB_ID = 'dc1.lab.example'
/** strongSwan proposals within the plugin set charon-config.ts loads (no openssl: no GCM, no ECP). */
export const LAB_IKE_PROPOSALS = ['aes256-sha256-x25519'] as const
export const LAB_ESP_PROPOSALS = ['aes256-sha256'] as const
/** The DC payment service's UDP port. */
export const LAB_POS_PORT = 7000

export interface LabPolicyOptions {
  /** The PSK file both tunnels name (the lab writes it into its work dir). */
  pskFile?: string
  /** Probe interval on the unmetered uplinks (ms). */
  intervalMs?: number
  /** Every class's timers; maxFailbackDelayMs (flap damping) is left to the product default unless given. */
  failover?: { holdDownMs?: number; failbackDelayMs?: number; maxFailbackDelayMs?: number; brownoutConfirmMs?: number }
  serial?: number
  /** ERP over the plain GRE tunnel LAB_GRE_TUNNEL (instead of straight over MPLS), dropped when it is down. */
  erpOverGre?: boolean
  /**
   * The three uplinks alone: no hub, no tunnels, so no POS class (it rides only the tunnels). The failover
   * bench measures the daemon's memory and CPU this way, as the issue states its goal (3 uplinks × 20
   * probes/s).
   */
  directOnly?: boolean
  /** Report to this broker (plain MQTT inside the lab: the broker listens on a lab address only). */
  telemetry?: { broker: string; reportIntervalS?: number }
}

export function labPolicy(topology: Topology, options: LabPolicyOptions = {}): string {
  const { bb, lte, mpls } = topology.uplinks
  const a = topology.addresses
  const psk = options.pskFile ?? '/etc/sdwan-edge/psk/dc1'
  const tunnel = (name: LabTunnelName) => {
    const t = LAB_TUNNELS[name]
    return (
      `  - { name: ${name}, type: ipsec, hub: dc1, uplink: ${t.uplink}, inner: { local: ${t.edgeInner}, remote: ${t.hubInner} }, ` +
      `remotePrefixes: [${a.hubService.replace(/\.\d+\.\d+$/, '.0.0')}/16], ipsec: { auth: { pskFile: ${psk} }, ` +
      `ikeProposals: [${LAB_IKE_PROPOSALS.join(', ')}], espProposals: [${LAB_ESP_PROPOSALS.join(', ')}], dpdDelayS: 2 } }`
    )
  }
  const g = LAB_GRE_TUNNEL
  const greTunnel =
    `  - { name: ${g.name}, type: gre, hub: dc1, uplink: ${g.uplink}, remote: ${a.hubMpls}, inner: { local: ${g.edgeInner}, remote: ${g.hubInner} }, ` +
    `remotePrefixes: [${a.hubService.replace(/\.\d+\.\d+$/, '.0.0')}/16], gre: { key: ${g.key} } }`
  const f = { holdDownMs: 10000, failbackDelayMs: 30000, brownoutConfirmMs: 2000, ...options.failover }
  const damping = f.maxFailbackDelayMs === undefined ? '' : `, maxFailbackDelayMs: ${f.maxFailbackDelayMs}`
  const failover = `{ holdDownMs: ${f.holdDownMs}, failbackDelayMs: ${f.failbackDelayMs}${damping}, brownoutConfirmMs: ${f.brownoutConfirmMs} }`
  const uplink = (name: string, kind: string, u: typeof bb, extra = '') =>
    `  - { name: ${name}, kind: ${kind}, interface: ${u.ifname}, addressing: { mode: static, ipv4: ${u.address}/${u.prefixLength}, gateway4: ${u.gateway} }${extra} }`
  return `# The lab branch (images/lab/topology.ts), made by images/lab/lab-policy.ts.
version: 1
serial: ${options.serial ?? 1}
site: { id: lab-store, name: Lab retail store }
device: { id: ${LAB_EDGE_ID} }
lan:
  - { name: store, interface: br-store, prefixes: [${a.storeGateway.replace(/\.1$/, '.0')}/24] }
  - { name: guest, interface: br-guest, prefixes: [${a.guestGateway.replace(/\.1$/, '.0')}/24], isolated: true }
uplinks:
${uplink('bb', 'broadband', bb)}
${uplink('lte', 'lte', lte, ', metered: true')}
${uplink('mpls', 'mpls', mpls)}
${options.directOnly ? '' : `hubs:
  - { name: dc1, addresses: [${a.hubPublic}], ikeId: ${LAB_HUB_ID} }
tunnels:
${tunnel('dc1-bb')}
${tunnel('dc1-lte')}
${options.erpOverGre ? `${greTunnel}\n` : ''}`}classes:
${options.directOnly ? '' : `  - name: pos
    match: [{ segments: [store], destinationPrefixes: [${a.hubService}/32], protocol: udp, ports: [${LAB_POS_PORT}] }]
    sla: { maxLatencyMs: 150, maxLossPct: 2 }
    paths: [dc1-bb, dc1-lte]
    whenNoPath: drop
    failover: ${failover}
`}  - name: voip
    match: [{ segments: [store], protocol: udp, ports: [5060, "10000-20000"] }]
    sla: { maxLatencyMs: 150, maxJitterMs: 30, maxLossPct: 1, minMos: 3.6 }
    paths: [lte, bb]
    failover: ${failover}
  - name: erp
    match: [{ segments: [store], destinationPrefixes: [10.20.0.0/16] }]
    sla: { maxLatencyMs: 300, maxLossPct: 2 }
    paths: [${options.erpOverGre ? `${LAB_GRE_TUNNEL.name}]\n    whenNoPath: drop` : 'mpls]'}
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
${options.telemetry ? `telemetry: { broker: "${options.telemetry.broker}", topicPrefix: sdwan, reportIntervalS: ${options.telemetry.reportIntervalS ?? 2} }\n` : ''}`
}
