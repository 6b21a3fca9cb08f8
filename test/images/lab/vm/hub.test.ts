// The hub mode in the VM lab (one boot of Debian's kernel under QEMU TCG, which has kernel ESP and xfrm
// interfaces): the real `sdwan-edge run` on a hub policy terminates two tunnels of one edge, keeps each
// connection's replies on the tunnel it came in on, reflects STAMP through each, moves the data centre's
// own traffic to the tunnel still up and drops it when none is (nothing in the clear), reloads on SIGHUP
// and stops on SIGTERM. The lab policy is checked without the VM.
import t from 'tap'
import { parseHubPolicy } from '../../../../edge/hub/load.js'
import { HUB_LAB, HUB_SUITE, hubLabPolicy } from '../../../../images/lab/vm/hub-suite.js'
import { runSuite } from '../../../../images/lab/vm/vm-suite.js'
import { assertSuite } from '../helpers/suite-checks.js'
import { vmLabSkip } from '../helpers/lab-capabilities.js'

t.test("the lab hub's policies are valid hub policies, the second one with a third tunnel", async t => {
  const one = parseHubPolicy('lab-hub.yaml', hubLabPolicy('/lab/psk', 1), () => true)
  const two = parseHubPolicy('lab-hub.yaml', hubLabPolicy('/lab/psk', 2), () => true)
  if (!one.ok || !two.ok) throw new Error(JSON.stringify([!one.ok && one.errors, !two.ok && two.errors]))
  t.same(one.policy.spokes.flatMap(s => s.tunnels.map(x => x.id)), HUB_LAB.tunnels.map(x => x.id))
  t.same(two.policy.spokes.flatMap(s => s.tunnels.map(x => x.id)), [1, 2, 3])
  t.equal(two.policy.serial, 2)
  const broken = parseHubPolicy('lab-hub.yaml', hubLabPolicy('/lab/psk', 2).replace('id: 3', 'id: 1'), () => true)
  t.notOk(broken.ok, "the scenario's broken reload (a duplicate id) is refused")
})

t.test('VM: the hub terminates two tunnels of one edge, replies stick to their tunnel', { skip: vmLabSkip(), timeout: 1_000_000 }, async t => {
  assertSuite(t, HUB_SUITE, await runSuite(HUB_SUITE), 60)
})
