// Test policies, written as YAML and run through the real loader so they are valid by construction.
import { parsePolicy } from '../../../../edge/config/load.js'
import { formatPolicyError } from '../../../../edge/config/errors.js'
import type { SitePolicy } from '../../../../edge/config/policy.js'

export function policyFromYaml(text: string, label = 'test-policy.yaml'): SitePolicy {
  const r = parsePolicy(label, text)
  if (!r.ok) throw new Error(`test policy invalid:\n${r.errors.map(formatPolicyError).join('\n')}`)
  return r.policy
}

/**
 * A store with three direct uplinks (bb, lte, mpls) and a GRE-less tunnel-free class set, so every
 * path can exist on the host kernel: what the real-kernel tests program.
 */
export const THREE_UPLINKS_YAML = `
version: 1
serial: 1
site: { id: test-site }
device: { id: test-edge }
lan:
  - { name: store, interface: lan0, prefixes: [10.42.0.0/24, "fd42:42::/64"] }
  - { name: guest, interface: lan1, prefixes: [10.142.0.0/24], isolated: true }
uplinks:
  - { name: bb, kind: broadband, interface: up-bb, addressing: { mode: static, ipv4: 192.0.2.2/24, gateway4: 192.0.2.1, ipv6: "2001:db8:b::2/64", gateway6: "2001:db8:b::1" } }
  - { name: lte, kind: lte, interface: up-lte, addressing: { mode: static, ipv4: 198.51.100.2/24, gateway4: 198.51.100.1 }, metered: true }
  - { name: mpls, kind: mpls, interface: up-mpls, addressing: { mode: static, ipv4: 203.0.113.2/24, gateway4: 203.0.113.1 } }
classes:
  - name: pos
    match: [{ segments: [store], sourcePrefixes: [10.42.0.10/32] }]
    paths: [mpls, bb]
  - name: voip
    match: [{ segments: [store], protocol: udp, ports: [5060, "10000-20000"] }, { segments: [store], dscp: [46] }]
    paths: [lte, bb]
  - name: guest
    match: [{ segments: [guest] }]
    paths: [bb]
    failover: { sticky: false }
  - name: web
    match: [{ segments: [store] }]
    mode: weighted
    paths: [{ via: bb, weight: 3 }, { via: lte, weight: 1 }]
`
