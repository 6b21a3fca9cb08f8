// One boot of Debian's kernel under QEMU TCG running the VM scenario suite: GRE, kernel ESP over an
// xfrm interface, netem delay, and the retail branch with its provider profiles. Each guest check is
// its own assertion, with the figures the guest measured in its message.
import t from 'tap'
import { KERNEL_SUITE, runSuite } from '../../../../images/lab/vm/vm-suite.js'
import { vmLabSkip } from '../helpers/lab-capabilities.js'
import { assertSuite } from '../helpers/suite-checks.js'

t.test('VM scenario suite', { skip: vmLabSkip(), timeout: 600_000 }, async t => {
  assertSuite(t, KERNEL_SUITE, await runSuite(KERNEL_SUITE), 40)
})
