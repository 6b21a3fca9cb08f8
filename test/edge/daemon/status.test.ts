// `sdwan-edge status`: the report built from a daemon snapshot, and the text a person reads.
import t from 'tap'
import { statusReport, statusText } from '../../../edge/daemon/status.js'
import type { DaemonSnapshot } from '../../../edge/daemon/edge-daemon.js'
import { metrics, threeUplinks } from '../../helpers/steering.js'

const policy = threeUplinks(`  - name: voip
    match: [{ segments: [lan] }]
    sla: { maxLossPct: 1 }
    paths: [b, a]`)

function snapshot(over: Partial<DaemonSnapshot> = {}): DaemonSnapshot {
  return {
    policy,
    facts: {},
    health: {},
    metrics: {},
    decisions: [],
    steering: {},
    recent: [],
    lastApply: undefined,
    startedAt: Date.parse('2026-11-24T06:00:00Z'),
    warmingUp: false,
    ...over,
  }
}

t.test('a path shows its loss over the window and over the last minute, which a loss SLA is judged on too', async t => {
  const lossy = { ...metrics({ loss: 0 }), lossHorizon: { lost: 9, settled: 600 } }
  const r = statusReport(
    snapshot({
      health: { b: { state: 'degraded', reason: 'voip: loss', since: 0 }, a: { state: 'up', reason: 'ok', since: 0 }, c: { state: 'down', reason: 'blackout', since: 0 } },
      metrics: { b: lossy, a: { ...metrics({}), lossHorizon: { lost: 0, settled: 0 } } },
    }),
    30_000,
  )
  const b = r.paths.find(p => p.name === 'b')!
  t.equal(b.lossPct, 0)
  t.equal(b.lastMinuteLossPct, 1.5)
  t.notOk('lastMinuteLossPct' in r.paths.find(p => p.name === 'a')!, 'nothing settled in the last minute: no figure')
  t.notOk('lossPct' in r.paths.find(p => p.name === 'c')!, 'no metrics: no figures')

  const lines = statusText(r).split('\n')
  const at = lines.findIndex(l => l.includes('loss 1m'))
  t.ok(at > 0, 'the paths table has a last-minute loss column')
  const table = lines.slice(at + 1)
  const column = (path: string): string => table.find(l => l.startsWith(`  ${path} `))!.slice(lines[at]!.indexOf('loss 1m')).split(/\s{2,}/)[0]!
  t.equal(column('b'), '1.5 %')
  t.equal(column('a'), '-')
})
