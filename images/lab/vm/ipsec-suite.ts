// The IPsec tunnels on kernel ESP in the VM lab: one boot of Debian's kernel runs scenarios/ipsec-kernel.ts
// (an xfrm interface's life; the real daemon choosing kernel ESP by itself and steering POS through xfrm
// interfaces with ESP only on the wire, failing over without leaking; gre-over-ipsec through the tunnel
// manager). Used by test/images/lab/vm/ipsec.test.ts.
import { VM_SUITE_MODULES, type ScenarioSuite } from './vm-suite.js'

/** The branch's and the tunnels' modules, and tun: the lab hub's responders run kernel-libipsec. */
export const IPSEC_MODULES: readonly string[] = [...VM_SUITE_MODULES, 'tun']

export const IPSEC_SCRIPT = 'exec node --import tsx images/lab/vm/scenarios/ipsec-kernel.ts\n'

export const IPSEC_CHECKS: readonly string[] = [
  'xfrm-interface',
  'ipsec-kernel-backend', 'ipsec-class-via-xfrm', 'ipsec-esp-only', 'ipsec-failover', 'ipsec-no-cleartext-down',
  'gre-ipsec-traffic', 'gre-ipsec-esp-only', 'gre-ipsec-no-cleartext-down',
  'ipsec-teardown',
]

/** ~3 minutes of scenario under TCG on a loaded 2-core host. Daemon, reflectors, hub and edge charons, sink
 *  and sender: a dozen processes, as the daemon suite. */
export const IPSEC_SUITE: ScenarioSuite = { label: 'ipsec', script: IPSEC_SCRIPT, modules: IPSEC_MODULES, checks: IPSEC_CHECKS, memoryMb: 2048, timeoutMs: 600_000 }
