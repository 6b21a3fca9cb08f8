// `sdwan-edge plan FILE [--json]`: what the daemon would program, without touching the kernel.
import { resolve } from 'node:path'
import { formatPolicyError } from '../../config/errors.js'
import { readPolicy } from '../../config/load.js'
import { desired, initialDecisions } from '../../dataplane/desired.js'
import { planText } from '../../dataplane/plan-text.js'
import { UsageError, type Command } from '../command.js'

export const plan: Command = {
  name: 'plan',
  summary: 'print the tables, rules, routes, marks and tunnels a policy makes (touches nothing)',
  help: `usage: sdwan-edge plan [--json] FILE

Validates FILE and prints what the daemon would create at start, every class on its first path:
paths and their routing tables, class and path fwmarks, tunnels, fib rules and routes (as ip rule /
ip route arguments), and the nftables table. Addresses of DHCP uplinks are unknown offline, so their
source rules and default routes are left out. Nothing on this machine is changed.

options:
  --json        print the desired state as JSON instead (the reconciler's input)
  -h, --help    show this help

exit status: 0 printed, 2 the policy is invalid or unreadable`,
  options: { json: { type: 'boolean' } },
  async run({ values, positionals }, io) {
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'no policy file given' : 'plan takes exactly one policy file')
    const file = positionals[0]!
    const result = await readPolicy(resolve(io.cwd, file), file)
    if (!result.ok) {
      io.stderr(result.errors.map(e => formatPolicyError(e) + '\n').join(''))
      return 2
    }
    const decisions = initialDecisions(result.policy)
    const state = desired(result.policy, decisions, {})
    io.stdout(values.json ? JSON.stringify({ decisions, desired: state }, null, 2) + '\n' : planText(result.policy, state, decisions, {}))
    return 0
  },
}
