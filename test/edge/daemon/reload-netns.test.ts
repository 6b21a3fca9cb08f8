// SIGHUP reloads the policy file: an invalid file is refused with its located problems and the running
// policy stays in force; a valid one is applied without a restart.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startBranch } from '../../../images/lab/branch.js'
import { spawnCommandRunner } from '../../../images/lab/command-runner.js'
import { labPolicy } from '../../../images/lab/lab-policy.js'
import { spawnLongRunning } from '../../../images/lab/long-running-process.js'
import { hostLabSkip } from '../../images/lab/helpers/lab-capabilities.js'

const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))

t.test('SIGHUP reloads the policy, refusing an invalid one', { skip: hostLabSkip() }, async t => {
  const workDir = await mkdtemp(join(tmpdir(), 'sdwan-reload-'))
  const branch = await startBranch({ prefix: `rl${process.pid % 100000}-`, workDir }, { run: spawnCommandRunner(), spawn: spawnLongRunning, sleep, now: Date.now })
  t.teardown(async () => {
    await branch.stop()
    await rm(workDir, { recursive: true, force: true })
  })
  const pid = branch.daemonPid!
  const first = await branch.waitForStatus(s => !s.warmingUp, 20_000, 'the daemon running')
  t.equal(first.serial, 1)

  await writeFile(branch.policyFile, 'version: 1\nserial: 2\nsite: { id: lab-store }\ndevice: { id: lab-edge }\nuplinks: []\nclasses: []\n')
  const logMark = branch.daemonLog.length
  process.kill(pid, 'SIGHUP')
  const refusal = await (async () => {
    for (let i = 0; i < 200; i++) {
      const line = branch.daemonLog.slice(logMark).find(l => l.includes('reload refused'))
      if (line) return line
      await sleep(50)
    }
    return undefined
  })()
  t.ok(refusal, 'the daemon logs the refusal')
  t.match(refusal ?? '', /policy\.yaml:5:10: \/uplinks: must list at least 1 item/, 'with the located problem')
  t.equal((await branch.status()).serial, 1, 'the running policy stays')

  await writeFile(branch.policyFile, labPolicy(branch.lab.topology, { serial: 2, pskFile: branch.pskFile, failover: { failbackDelayMs: 5000 } }))
  process.kill(pid, 'SIGHUP')
  const reloaded = await branch.waitForStatus(s => s.serial === 2, 15_000, 'serial 2 in force')
  t.same(reloaded.classes.find(c => c.name === 'voip')!.active, ['lte'], 'classes still steered after the reload')
})
