// The edge's side of gre-over-ipsec in the VM lab, run inside the edge namespace (rtnetlink and charon act
// in the namespace of the process that starts them, and Node cannot setns): the GRE link made by the
// reconciler's own port from the desired state's greLinks, and the tunnel manager on the kernel backend
// protecting it with a transport-mode CHILD_SA. Reports over stdout: `state <json>` on every change
// ({ tunnel: { up, reason } }), `ready` once set() returned, `error <message>` if setting up failed.
// SIGTERM tears everything down (charon, the GRE link), then the process exits. argv: policy file, run dir.
import { readPolicy } from '../../../../edge/config/load.js'
import { nodeTunnelManager, tunnelPlanOptions } from '../../../../edge/dataplane/ipsec/node-tunnels.js'
import { ownershipOf } from '../../../../edge/dataplane/ports.js'
import { RtnlKernelPort } from '../../../../edge/dataplane/rtnl/port.js'
import { greLinks, ipsecConns } from '../../../../edge/dataplane/tunnels.js'

const [policyFile = '', runDir = ''] = process.argv.slice(2)
const loaded = await readPolicy(policyFile)
if (!loaded.ok) {
  process.stdout.write(`error invalid policy: ${JSON.stringify(loaded.errors)}\n`)
  process.exit(2)
}
const policy = loaded.policy
const kernel = new RtnlKernelPort(ownershipOf(policy.dataplane))
const links = greLinks(policy, {})
const manager = nodeTunnelManager(
  () => policy,
  tunnelPlanOptions(policy, runDir, { backend: 'kernel', logLevel: 1 }),
  (level, fields, msg) => process.stderr.write(`${level} ${msg} ${JSON.stringify(fields, (_k, v: unknown) => (v instanceof Error ? v.message : v))}\n`),
)
const report = (): void => {
  const states = Object.fromEntries(policy.tunnels.map(t => [t.name, manager.state(t.name) ?? null]))
  process.stdout.write(`state ${JSON.stringify(states)}\n`)
}
manager.onChange(report)
try {
  const failed = (await kernel.apply(links.map(link => ({ kind: 'add-gre' as const, link })))).filter(e => e !== undefined)
  if (failed.length > 0) throw new Error(failed.map(e => e.message).join('; '))
  await manager.set(ipsecConns(policy, {}))
  process.stdout.write('ready\n')
  report()
} catch (err) {
  process.stdout.write(`error ${(err as Error).message}\n`)
}
process.once('SIGTERM', () => {
  void (async () => {
    await manager.stop()
    manager.close()
    await kernel.apply(links.map(link => ({ kind: 'del-gre' as const, link })))
    kernel.close()
    process.exit(0)
  })()
})
