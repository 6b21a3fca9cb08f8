// One boot of Debian's kernel under QEMU TCG running the VM scenario suite: GRE, kernel ESP over an
// xfrm interface, netem delay, and the retail branch with its provider profiles. Each guest check is
// its own assertion, with the figures the guest measured in its message.
import t from 'tap'
import { runVmSuite, VM_SUITE_CHECKS, verdictLine } from '../../../images/lab/vm/vm-suite.js'
import { vmLabSkip } from './helpers/lab-capabilities.js'

t.test('VM scenario suite', { skip: vmLabSkip(), timeout: 600_000 }, async t => {
  const report = await runVmSuite()
  t.comment(verdictLine(report))
  for (const name of VM_SUITE_CHECKS) {
    const check = report.checks.find(c => c.name === name)
    t.ok(check?.ok, `${name}: ${check?.detail ?? 'never reported by the guest'}`)
  }
  t.equal(report.run.exitCode, 0, 'the guest scenario script exited 0')
  if (!report.ok) t.comment(report.run.console.split('\n').slice(-40).join('\n'))
})
