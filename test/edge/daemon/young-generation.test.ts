// keepYoungGenerationSmall: set from inside a running process, its flag still stops V8 from growing the
// new space under an allocation burst that would grow it to its 16 MB default maximum. Each case runs
// in its own plain node process (no tsx, whose own loading would grow the new space first), since V8
// flags are process-wide.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { keepYoungGenerationSmall, NO_YOUNG_GENERATION_GROWTH } from '../../../edge/daemon/young-generation.js'

// Allocates objects a scavenge finds alive (V8 grows the nursery on high survival), then reports the
// new space's size in MB.
const burst = `
  const keep = []
  for (let i = 0; i < 2e6; i++) { const o = { a: i, b: [i, i] }; if (i % 50 === 0) keep.push(o); if (keep.length > 20000) keep.length = 0 }
  const v8 = await import('node:v8')
  process.stdout.write(String(v8.getHeapSpaceStatistics().find(s => s.space_name === 'new_space').space_size / 1048576))`

function newSpaceMbAfterBurst(cap: boolean): number {
  const setup = cap ? `(await import('node:v8')).setFlagsFromString(${JSON.stringify(NO_YOUNG_GENERATION_GROWTH)});` : ''
  // Without tap's NODE_OPTIONS, whose loaders would allocate (and grow the nursery) before the flag is set.
  const { NODE_OPTIONS: _, ...env } = process.env
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', setup + burst], { encoding: 'utf8', env })
  if (run.status !== 0) throw new Error(run.stderr)
  return Number(run.stdout)
}

t.test('the daemon (run) gets the flag; one-shot commands keep V8 as it is', async t => {
  const set: string[] = []
  keepYoungGenerationSmall('run', flags => set.push(flags))
  t.same(set, [NO_YOUNG_GENERATION_GROWTH])
  for (const command of ['plan', 'validate', 'probe', undefined]) keepYoungGenerationSmall(command, flags => set.push(flags))
  t.same(set, [NO_YOUNG_GENERATION_GROWTH], 'nothing more')
})

t.test('set at run time, it keeps the new space small through a burst', async t => {
  const grown = newSpaceMbAfterBurst(false)
  t.ok(grown >= 8, `without it the burst grows the new space (${grown} MB)`)
  const kept = newSpaceMbAfterBurst(true)
  t.ok(kept <= 4, `with it the new space stays at a few MB (${kept} MB)`)
})
