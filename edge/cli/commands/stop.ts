// `sdwan-edge stop --flush [--policy FILE] [--netns NAME]`: removes every kernel object we own.
import { resolve } from 'node:path'
import { formatPolicyError } from '../../config/errors.js'
import { readPolicy } from '../../config/load.js'
import { describeOp } from '../../dataplane/ops.js'
import { runCliInNetns } from '../../dataplane/netns-exec.js'
import { openKernelSession, ownershipFor } from '../../dataplane/session.js'
import { UsageError, type Command } from '../command.js'

export const stopCommand: Command = {
  name: 'stop',
  summary: 'remove every route, rule, tunnel link and nftables table the dataplane owns',
  help: `usage: sdwan-edge stop --flush [--policy FILE] [--netns NAME] [--verbose]

Removes the fib rules in the owned priority range, the routes with the owned protocol in the owned
tables, the owned GRE links (sw-*) and the owned nftables table. Nothing else is touched. The
ranges are the policy's (--policy) or the defaults (priorities 10000-10999, tables 1000-1999,
protocol 201, table inet sdwan).

options:
  -f, --flush        remove the objects (required: stop keeps no other state)
  -p, --policy FILE  take the owned ranges from this policy
  -n, --netns NAME   run inside network namespace NAME
  -v, --verbose      print every kernel operation
  -h, --help         show this help

exit status: 0 removed, 1 some removals failed (listed), 2 invalid policy or usage`,
  options: {
    flush: { type: 'boolean', short: 'f' },
    policy: { type: 'string', short: 'p' },
    netns: { type: 'string', short: 'n' },
    verbose: { type: 'boolean', short: 'v' },
  },
  async run({ values, positionals }, io) {
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`)
    if (!values.flush) throw new UsageError('--flush is required (the objects are all that stop removes)')
    const policyFile = typeof values.policy === 'string' ? resolve(io.cwd, values.policy) : undefined
    if (typeof values.netns === 'string')
      return runCliInNetns(values.netns, ['stop', '--flush', ...(policyFile ? ['--policy', policyFile] : []), ...(values.verbose ? ['--verbose'] : [])], io, io.env)
    let policy
    if (policyFile) {
      const result = await readPolicy(policyFile, String(values.policy))
      if (!result.ok) {
        io.stderr(result.errors.map(e => formatPolicyError(e) + '\n').join(''))
        return 2
      }
      policy = result.policy
    }
    const session = openKernelSession(ownershipFor(policy), () => undefined)
    try {
      const report = await session.reconciler.set(null)
      if (values.verbose) for (const op of report.ops) io.stdout(describeOp(op) + '\n')
      for (const f of report.failed) io.stderr(`failed: ${f.error.message}\n`)
      io.stdout(`removed ${report.ops.length - report.failed.length} objects, ${report.failed.length} failed\n`)
      return report.failed.length ? 1 : 0
    } finally {
      session.close()
    }
  },
}
