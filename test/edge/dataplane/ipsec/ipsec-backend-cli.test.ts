// The IPsec backend at the edges of the daemon: `sdwan-edge run --ipsec-backend` (help, bad values refused
// before anything starts) and the line `sdwan-edge status` shows. The choice itself is tested in
// xfrm-interface.test.ts; the daemon picking kernel ESP on a kernel with xfrm interfaces in the VM lab
// (test/images/lab/vm/ipsec.test.ts).
import { join } from 'node:path'
import t from 'tap'
import { statusText, type StatusReport } from '../../../../edge/daemon/status.js'
import { runCli } from '../../../helpers/cli.js'

const root = join(import.meta.dirname, '../../../..')

t.test('run --help names the flag and its values', async t => {
  const r = await runCli(['run', '--help'], root)
  t.equal(r.code, 0)
  t.match(r.stdout, /^ {2}--ipsec-backend B {2}auto, kernel or libipsec \(default auto\)/m)
})

t.test('a backend that does not exist is a usage error, before the policy is read', async t => {
  const r = await runCli(['run', '--policy', 'no/such/policy.yaml', '--ipsec-backend', 'xfrm'], root)
  t.equal(r.code, 2)
  t.match(r.stderr, "sdwan-edge run: --ipsec-backend: the IPsec backend must be auto, kernel or libipsec (got 'xfrm')")
})

t.test('status shows the backend and why, when the daemon reports one', async t => {
  const report: StatusReport = { site: 's', device: 'd', serial: 1, startedAt: '2026-11-23T22:00:00.000Z', warmingUp: false, uplinks: [], paths: [], classes: [], recent: [] }
  t.notMatch(statusText(report), /IPsec/)
  t.match(statusText({ ...report, ipsec: { backend: 'kernel', reason: 'auto: the kernel has xfrm interfaces' } }), /^IPsec backend kernel \(auto: the kernel has xfrm interfaces\)$/m)
})
