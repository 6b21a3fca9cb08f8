// The kernel half of `sdwan-edge apply` in a child process: it loads a desired state (computed by
// the parent from a policy, as the CLI does), opens the netlink and nft ports, says "ready", and
// converges when told "go" on stdin. The crash test kills it at random points of that converge;
// keeping policy parsing out of the child keeps its start-up short and every kill point inside
// the part that touches the kernel.
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import type { DesiredState } from '../../../../edge/dataplane/model.js'
import { openKernelSession, DEFAULT_OWNERSHIP } from '../../../../edge/dataplane/session.js'

const want = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as DesiredState
const session = openKernelSession(DEFAULT_OWNERSHIP, () => undefined)
process.stdout.write('ready\n')
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== 'go') continue
  const report = await session.reconciler.set(want)
  session.close()
  process.exit(report.failed.length ? 1 : 0)
}
