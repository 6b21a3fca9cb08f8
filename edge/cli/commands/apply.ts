// `sdwan-edge apply FILE [--netns NAME]`: programs a policy's initial dataplane state once.
import { resolve } from 'node:path'
import { formatPolicyError } from '../../config/errors.js'
import { readPolicy } from '../../config/load.js'
import { desired, initialDecisions } from '../../dataplane/desired.js'
import { uplinkFacts } from '../../dataplane/facts.js'
import { describeOp } from '../../dataplane/ops.js'
import { runCliInNetns } from '../../dataplane/netns-exec.js'
import { openKernelSession, ownershipFor } from '../../dataplane/session.js'
import { UsageError, type Command } from '../command.js'

export const applyCommand: Command = {
  name: 'apply',
  summary: "program a policy's initial dataplane state (routes, rules, nftables) once",
  help: `usage: sdwan-edge apply [--netns NAME] [--verbose] FILE

Validates FILE, reads the uplinks' addresses and gateways from the kernel, and programs the state
with every class on its first listed path (weighted classes: all their paths): per-path routing
tables, fib rules, and the nftables table. Only objects in the policy's dataplane ranges are
touched; running it again changes nothing. Undo with 'sdwan-edge stop --flush'.

options:
  -n, --netns NAME  run inside network namespace NAME
  -v, --verbose     print every kernel operation
  -h, --help        show this help

exit status: 0 applied, 1 some operations failed (listed), 2 invalid policy or usage`,
  options: { netns: { type: 'string', short: 'n' }, verbose: { type: 'boolean', short: 'v' } },
  async run({ values, positionals }, io) {
    if (positionals.length !== 1) throw new UsageError('exactly one policy file is needed')
    const file = positionals[0]!
    if (typeof values.netns === 'string')
      return runCliInNetns(values.netns, ['apply', ...(values.verbose ? ['--verbose'] : []), resolve(io.cwd, file)], io, io.env)
    const result = await readPolicy(resolve(io.cwd, file), file)
    if (!result.ok) {
      io.stderr(result.errors.map(e => formatPolicyError(e) + '\n').join(''))
      return 2
    }
    const policy = result.policy
    const session = openKernelSession(ownershipFor(policy), () => undefined)
    try {
      const facts = uplinkFacts(policy, await session.kernel.facts())
      const report = await session.reconciler.set(desired(policy, initialDecisions(policy), facts))
      if (values.verbose) for (const op of report.ops) io.stdout(describeOp(op) + '\n')
      for (const f of report.failed) io.stderr(`failed: ${f.error.message}\n`)
      io.stdout(`${file}: ${report.ops.length} operations, ${report.failed.length} failed; now ${report.reached.rules.length} rules, ${report.reached.routes.length} routes, nft table ${report.reached.nftDigest ? 'loaded' : 'absent'}\n`)
      return report.failed.length ? 1 : 0
    } finally {
      session.close()
    }
  },
}
