// Runs inside a throwaway namespace (rtnetlink works in the namespace of the process that opens the socket,
// and Node cannot setns): the backend probe, then, where the kernel has xfrm interfaces, one interface's whole
// life through XfrmInterfaces. Prints one JSON line: { missing } or { steps: { step: XfrmInterface[] } }.
// Used by test/edge/dataplane/ipsec/xfrm-interface.test.ts on the host and by the VM lab's IPsec scenario;
// xfrm-lifecycle.ts judges what it printed.
import { xfrmInterfaceMissing } from '../../../../edge/dataplane/ipsec/ipsec-backend.js'
import { XfrmInterfaces } from '../../../../edge/dataplane/ipsec/xfrm-interface.js'
import type { XfrmChildResult, XfrmChildSteps } from './xfrm-lifecycle.js'

const port = new XfrmInterfaces()
const print = (result: XfrmChildResult): void => void process.stdout.write(`${JSON.stringify(result)}\n`)
const missing = await xfrmInterfaceMissing(port)
if (missing !== undefined) {
  print({ missing })
} else {
  const steps: Record<string, XfrmChildSteps[string]> = {}
  const spec = { name: 'sw-xt', ifId: 7, mtu: 1438, addresses: ['10.77.0.1/30'] }
  await port.ensure(spec)
  steps.created = await port.list()
  await port.ensure(spec)
  steps.again = await port.list()
  await port.ensure({ ...spec, mtu: 1400, addresses: ['10.77.0.1/30', '10.77.1.1/32'] })
  steps.changed = await port.list()
  await port.ensure({ ...spec, ifId: 8, underlay: 'lo' })
  steps.replaced = await port.list()
  const clash = await port.ensure({ name: 'lo', ifId: 9, mtu: 1400, addresses: [] }).then(() => 'none', (err: Error) => err.message)
  await port.remove(spec.name)
  await port.remove(spec.name)
  steps.removed = await port.list()
  print({ steps, clash })
}
port.close()
