// applyDaemonV8Flags: which commands get the flags, and that each flag, set from inside a running
// process, still has its effect on what is allocated afterwards. Each effect is measured in its own plain
// node process (V8 flags are process-wide; tap's NODE_OPTIONS loaders are left out, since their own
// loading would allocate before the flags are set).
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { applyDaemonV8Flags, DAEMON_V8_FLAGS } from '../../../edge/daemon/v8-flags.js'

/** Runs `workload` after setting `flags` at run time; returns what it printed, as a number. */
function afterFlags(flags: readonly string[], workload: string): number {
  const setup = `const v8 = await import('node:v8'); for (const f of ${JSON.stringify(flags)}) v8.setFlagsFromString(f);`
  const { NODE_OPTIONS: _, ...env } = process.env
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', setup + workload], { encoding: 'utf8', env })
  if (run.status !== 0) throw new Error(run.stderr)
  return Number(run.stdout)
}
const spaceMb = (name: string): string =>
  `process.stdout.write(String(v8.getHeapSpaceStatistics().find(s => s.space_name === '${name}').space_size / 1048576))`

// Objects a scavenge finds alive, which makes V8 grow the nursery.
const nurseryBurst = `
  const keep = []
  for (let i = 0; i < 2e6; i++) { const o = { a: i, b: [i, i] }; if (i % 50 === 0) keep.push(o); if (keep.length > 20000) keep.length = 0 }
  ${spaceMb('new_space')}`
// Objects that live long enough to be promoted and then die: old-space garbage, as a reload leaves.
const promotedGarbage = `
  const ring = new Array(20000)
  for (let i = 0; i < 3e6; i++) ring[i % ring.length] = { i, s: [i, i + 1, i + 2] }
  ${spaceMb('old_space')}`

t.test('the daemon (run) gets the flags; one-shot commands keep V8 as it is', async t => {
  const set: string[] = []
  applyDaemonV8Flags('run', flags => set.push(flags))
  t.same(set, DAEMON_V8_FLAGS)
  for (const command of ['plan', 'validate', 'probe', undefined]) applyDaemonV8Flags(command, flags => set.push(flags))
  t.same(set, DAEMON_V8_FLAGS, 'nothing more')
})

t.test('--semi-space-growth-factor=1 at run time keeps the new space small through a burst', async t => {
  const grown = afterFlags([], nurseryBurst)
  t.ok(grown >= 8, `without it the burst grows the new space (${grown} MB)`)
  const kept = afterFlags(['--semi-space-growth-factor=1'], nurseryBurst)
  t.ok(kept <= 4, `with it the new space stays at a few MB (${kept} MB)`)
})

t.test('--optimize-for-size at run time keeps less old space for promoted garbage', async t => {
  const without = afterFlags(['--semi-space-growth-factor=1'], promotedGarbage)
  const withIt = afterFlags(DAEMON_V8_FLAGS, promotedGarbage)
  t.ok(withIt < without, `old space ${withIt} MB with it, ${without} MB without`)
})
