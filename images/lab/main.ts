// `npm run lab`: the whole simulated branch on this machine — the retail store's namespaces, its three
// providers, the data-centre hub, reflectors and the real edge daemon — with a live view and commands to
// impair a link. `npm run lab -- --smoke` runs the same lab non-interactively and exits 0 or 1 with a
// one-line verdict. Everything is torn down on exit.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startBranch } from './branch.js'
import { spawnCommandRunner } from './command-runner.js'
import { runConsole } from './console.js'
import { spawnLongRunning } from './long-running-process.js'
import { runSmoke, SMOKE_CHECKS } from './smoke.js'

const HELP = `usage: npm run lab -- [--smoke] [--prefix P]

Builds the retail branch in network namespaces on this machine (edge, POS/VoIP/guest clients, broadband,
LTE and MPLS providers, the data-centre hub, a public internet host), starts STAMP reflectors and the
edge daemon on the lab policy, and shows live what it does: paths, metrics, each class's path and why.
Type 'impair bb blackout', 'restore bb', … to see it react. Needs root and images/setup-host.sh.

  --smoke      non-interactive: check each class's path, black out broadband, check POS moves; exit 0/1
  --prefix P   namespace name prefix (default 'lab-'); a crashed run's leftovers with it are cleared
  -h, --help   this text
`

async function main(argv: string[]): Promise<number> {
  let values
  try {
    ;({ values } = parseArgs({ args: argv, options: { smoke: { type: 'boolean' }, prefix: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }))
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(HELP)
    return 0
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('npm run lab: needs root (network namespaces, nftables)\n')
    return 2
  }
  const workDir = await mkdtemp(join(tmpdir(), 'sdwan-lab-'))
  const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))
  process.stdout.write('building the lab branch…\n')
  const branch = await startBranch(
    { prefix: values.prefix ?? 'lab-', workDir, broker: true, policy: values.smoke ? { failover: { holdDownMs: 1000, failbackDelayMs: 3000, brownoutConfirmMs: 500 } } : {} },
    { run: spawnCommandRunner(), spawn: spawnLongRunning, sleep, now: Date.now },
  )
  try {
    if (values.smoke) {
      const checks = await runSmoke(branch, c => process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}\n`))
      const failed = checks.filter(c => !c.ok)
      const allRan = checks.length === SMOKE_CHECKS
      process.stdout.write(
        failed.length === 0 && allRan ? `lab smoke: PASS (${checks.length} checks)\n` : `lab smoke: FAIL (${failed.map(c => c.name).join('; ') || 'not every check ran'})\n`,
      )
      if (failed.length > 0) process.stdout.write(`daemon log (last lines):\n${branch.daemonLog.slice(-15).join('\n')}\n`)
      return failed.length === 0 && allRan ? 0 : 1
    }
    const b = branch.broker!
    process.stdout.write(`lab up; daemon log and state in ${workDir}\n`)
    process.stdout.write(`telemetry: ip netns exec ${branch.lab.topology.namespaces.hub} mosquitto_sub -h ${b.address} -p ${b.port} -t 'sdwan/#' -v\n`)
    await runConsole(branch, process.stdout, process.stdin)
    return 0
  } finally {
    process.stdout.write('tearing the lab down…\n')
    await branch.stop()
    await rm(workDir, { recursive: true, force: true })
  }
}

main(process.argv.slice(2)).then(
  code => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`npm run lab: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  },
)
