// GRE on a real kernel: one boot of Debian's kernel (the host kernel has no GRE) runs the real KernelPort
// on GRE and ip6gre links (scenarios/gre-port.ts, in a throwaway namespace) and then the real edge daemon
// with ERP over a plain GRE tunnel across MPLS to the lab hub (scenarios/gre-daemon.ts).
// Used by test/images/lab/vm/gre.test.ts.
import { DAEMON_MODULES } from './daemon-suite.js'
import type { ScenarioSuite } from './vm-suite.js'

/** The daemon's branch (with tun for the lab's IPsec tunnels) and both GRE families. */
export const GRE_MODULES: readonly string[] = [...DAEMON_MODULES, 'ip_gre', 'ip6_gre']

/** Both scenarios run even if the first fails, so one boot reports every check. */
export const GRE_SUITE_SCRIPT = [
  'ip netns add grep-port && ip netns exec grep-port node --import tsx images/lab/vm/scenarios/gre-port.ts; port=$?',
  'ip netns del grep-port',
  'node --import tsx images/lab/vm/scenarios/gre-daemon.ts; daemon=$?',
  'exit $((port | daemon))',
  '',
].join('\n')

export const GRE_PORT_CHECKS: readonly string[] = ['gre-port-add', 'gre-port-dump', 'gre-port-routes', 'gre-port-idempotent', 'gre-port-change', 'gre-port-remove']
export const GRE_DAEMON_CHECKS: readonly string[] = [
  'gre-daemon-path-up', 'gre-daemon-erp-through-tunnel', 'gre-daemon-mpls-wire-gre-only', 'gre-daemon-blackout-drops-erp',
  'gre-daemon-recovers', 'gre-daemon-never-in-clear', 'gre-daemon-teardown',
]
export const GRE_CHECKS: readonly string[] = [...GRE_PORT_CHECKS, ...GRE_DAEMON_CHECKS]

/** ~3 minutes on a loaded 2-core host. The daemon, five reflectors, two charons, sinks and senders: 2 GB. */
export const GRE_SUITE: ScenarioSuite = { label: 'gre', script: GRE_SUITE_SCRIPT, modules: GRE_MODULES, checks: GRE_CHECKS, memoryMb: 2048, timeoutMs: 480_000 }
