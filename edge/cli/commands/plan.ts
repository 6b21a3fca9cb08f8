// `sdwan-edge plan FILE [--json]`: what the daemon would program, without touching the kernel.
import { resolve } from 'node:path'
import { formatPolicyError } from '../../config/errors.js'
import { desired, initialDecisions } from '../../dataplane/desired.js'
import { planText } from '../../dataplane/plan-text.js'
import { readAnyPolicy } from '../../hub/load.js'
import { planHub } from '../../hub/plan.js'
import { hubPlanText } from '../../hub/plan-text.js'
import { spokeTunnels } from '../../hub/policy.js'
import { UsageError, type Command } from '../command.js'

export const plan: Command = {
  name: 'plan',
  summary: 'print the tables, rules, routes, marks and tunnels a policy makes (touches nothing)',
  help: `usage: sdwan-edge plan [--json] FILE

Validates FILE and prints what the daemon would create at start, every class on its first path:
paths and their routing tables, class and path fwmarks, tunnels, fib rules and routes (as ip rule /
ip route arguments), and the nftables table. Addresses of DHCP uplinks are unknown offline, so their
source rules and default routes are left out. For a hub policy (device.role hub): the spoke tunnels'
xfrm interfaces, rules, routes with every tunnel up, the reflector and the connmark table. Nothing on
this machine is changed.

options:
  --json        print the desired state as JSON instead (the reconciler's input)
  -h, --help    show this help

exit status: 0 printed, 2 the policy is invalid or unreadable`,
  options: { json: { type: 'boolean' } },
  async run({ values, positionals }, io) {
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'no policy file given' : 'plan takes exactly one policy file')
    const file = positionals[0]!
    // Key and certificate files live on the appliance, not where plans are read: not checked here.
    const result = await readAnyPolicy(resolve(io.cwd, file), file, () => true)
    if (!result.ok) {
      io.stderr(result.errors.map(e => formatPolicyError(e) + '\n').join(''))
      return 2
    }
    if (result.role === 'hub') {
      const hub = planHub(result.policy, new Set(spokeTunnels(result.policy).map(t => t.key)))
      io.stdout(values.json ? JSON.stringify(hub, null, 2) + '\n' : hubPlanText(result.policy, hub))
      return 0
    }
    const decisions = initialDecisions(result.policy)
    const state = desired(result.policy, decisions, {})
    io.stdout(values.json ? JSON.stringify({ decisions, desired: state }, null, 2) + '\n' : planText(result.policy, state, decisions, {}))
    return 0
  },
}
