// An IpsecTunnelManager in a child process inside the edge namespace (rtnetlink works in the namespace of
// the process that opens the socket, and Node cannot setns), driven over stdin, reporting over stdout:
//   in:  `set <tunnel,…|->`  converge to those tunnels' conns (`-` for none);  `stop`
//   out: `ready` once loaded (Node and tsx start-up is not part of any measurement);
//        `state <json>` on every change and after each command: { tunnel: { up, reason, pid } }
//        `ok <command>` or `error <message>` when a command finished.
// argv: policy file, plan-options JSON ({ runDir, ikePortBase, hubPorts: { tunnel: port } }).
import { createInterface } from 'node:readline'
import { readPolicy } from '../../../../../edge/config/load.js'
import { ipsecConns } from '../../../../../edge/dataplane/tunnels.js'
import { nodeTunnelManager, tunnelPlanOptions } from '../../../../../edge/dataplane/ipsec/node-tunnels.js'

const [policyFile = '', optionsJson = '{}'] = process.argv.slice(2)
const loaded = await readPolicy(policyFile)
if (!loaded.ok) {
  process.stdout.write(`error invalid policy: ${JSON.stringify(loaded.errors)}\n`)
  process.exit(2)
}
const policy = loaded.policy
const opts = JSON.parse(optionsJson) as { runDir: string; ikePortBase: number; hubPorts: Record<string, number> }
const manager = nodeTunnelManager(
  () => policy,
  tunnelPlanOptions(policy, opts.runDir, { ikePortBase: opts.ikePortBase, hubIkePort: t => opts.hubPorts[t] ?? 500 }),
  (level, fields, msg) => process.stderr.write(`${level} ${msg} ${JSON.stringify(fields, (k, v: unknown) => (v instanceof Error ? v.message : v))}\n`),
)
const report = (): void => {
  const states = Object.fromEntries(policy.tunnels.map(t => [t.name, { ...manager.state(t.name), pid: manager.charonPid(t.name) }]))
  process.stdout.write(`state ${JSON.stringify(states)}\n`)
}
manager.onChange(report)
const conns = ipsecConns(policy, {})
process.stdout.write('ready\n')
for await (const line of createInterface({ input: process.stdin })) {
  const [command = '', arg = ''] = line.trim().split(/\s+/)
  try {
    if (command === 'set') {
      const names = arg === '-' ? [] : arg.split(',')
      await manager.set(conns.filter(c => names.includes(c.name)))
    } else if (command === 'stop') {
      await manager.stop()
    } else {
      throw new TypeError(`unknown command '${command}'`)
    }
    report()
    process.stdout.write(`ok ${line.trim()}\n`)
  } catch (err) {
    report()
    process.stdout.write(`error ${(err as Error).message.replace(/\n/g, ' ')}\n`)
  }
  if (command === 'stop') break
}
manager.close()
process.exit(0)
