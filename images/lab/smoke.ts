// `npm run lab -- --smoke`: the lab branch, non-interactive. Each class's traffic must leave by the path
// the policy gives it (seen at the far side by its source address, or by where it can arrive at all);
// then broadband is blacked out and POS must move to LTE. One line per check, then a verdict.
import type { Branch, Sink } from './branch.js'

export interface SmokeCheck {
  name: string
  ok: boolean
  detail: string
}

export async function runSmoke(branch: Branch, report: (c: SmokeCheck) => void): Promise<SmokeCheck[]> {
  const checks: SmokeCheck[] = []
  const check = async (name: string, body: () => Promise<string>): Promise<boolean> => {
    let c: SmokeCheck
    try {
      c = { name, ok: true, detail: await body() }
    } catch (err) {
      c = { name, ok: false, detail: err instanceof Error ? err.message : String(err) }
    }
    checks.push(c)
    report(c)
    return c.ok
  }
  const t = branch.lab.topology
  const a = t.addresses
  const via = { bb: t.uplinks.bb.address, lte: t.uplinks.lte.address }
  const sinks: Record<string, Sink> = {}
  const arrives = async (sink: Sink, tag: string, source: string | undefined, what: string, from = 0): Promise<string> => {
    const hit = await sink.waitFor(x => x.payload.startsWith(`${tag} `) && (source === undefined || x.source === source), 10_000, what, from)
    return `${tag} arrived from ${hit.source}`
  }

  const ready = await check('every path comes up', async () => {
    const s = await branch.waitForStatus(s => !s.warmingUp && s.paths.every(p => p.state === 'up'), 30_000, 'every path up')
    return s.paths.map(p => `${p.name} ${p.rttMs ?? '-'} ms`).join(', ')
  })
  if (!ready) return checks
  sinks.pos = await branch.startSink('inet', a.internetHost, 7000)
  sinks.voip = await branch.startSink('inet', a.internetHost, 5060)
  sinks.guest = await branch.startSink('inet', a.internetHost, 7001)
  sinks.erp = await branch.startSink('hub', a.hubService, 7002)
  branch.startFlow('pos', a.internetHost, 7000, 42001, 20, 'POS')
  branch.startFlow('voip', a.internetHost, 5060, 5060, 20, 'VOIP')
  branch.startFlow('guest', a.internetHost, 7001, 42003, 20, 'GUEST')
  branch.startFlow('pos', a.hubService, 7002, 42004, 20, 'ERP')
  await check('POS leaves by broadband', () => arrives(sinks.pos!, 'POS', via.bb, 'POS via bb'))
  await check('VoIP leaves by LTE', () => arrives(sinks.voip!, 'VOIP', via.lte, 'VoIP via lte'))
  await check('guest leaves by broadband, straight to the internet', () => arrives(sinks.guest!, 'GUEST', via.bb, 'guest via bb'))
  await check('ERP reaches the data centre over MPLS', async () => {
    const before = await branch.lab.counters('mpls')
    const got = await arrives(sinks.erp!, 'ERP', undefined, 'ERP at the hub', sinks.erp!.arrivals.length)
    const after = await branch.lab.counters('mpls')
    if (after.fromEdge <= before.fromEdge) throw new Error(`${got}, but the MPLS provider forwarded nothing from the edge`)
    return `${got}; MPLS forwarded ${after.fromEdge - before.fromEdge} packets from the edge meanwhile`
  })
  await check('broadband blackout moves POS to LTE', async () => {
    const mark = sinks.pos!.arrivals.length
    const cut = Date.now()
    await branch.lab.impair('bb', { kind: 'blackout' })
    const hit = await sinks.pos!.waitFor(x => x.payload.startsWith('POS ') && x.source === via.lte, 10_000, 'POS via lte after the blackout', mark)
    return `first POS packet via LTE ${hit.at - cut} ms after the cut`
  })
  await branch.lab.restore('bb')
  return checks
}
