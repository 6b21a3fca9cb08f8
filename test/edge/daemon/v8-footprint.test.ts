// favourMemory: only the long-running daemon asks V8 to favour memory; the figures it buys (RSS after
// start and reloads, and its CPU cost) are measured by `npm run bench failover` and in the module's notes.
import t from 'tap'
import { favourMemory, FAVOUR_MEMORY } from '../../../edge/daemon/v8-footprint.js'

t.test('the daemon (run) gets the flag; one-shot commands keep V8 as it is', async t => {
  const set: string[] = []
  favourMemory('run', flags => set.push(flags))
  t.same(set, [FAVOUR_MEMORY])
  for (const command of ['plan', 'validate', 'probe', 'status', undefined]) favourMemory(command, flags => set.push(flags))
  t.same(set, [FAVOUR_MEMORY], 'nothing more')
})
