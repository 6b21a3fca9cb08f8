// `npm run lab -- --smoke`: the lab branch, non-interactive. Each class's traffic must leave by the path
// the policy gives it (seen at the far side by its source address, or by where it can arrive at all;
// POS by the tunnel the daemon reports and ESP-in-UDP counted on the broadband provider); then broadband
// is blacked out and POS must move to the tunnel over LTE. One line per check, then a verdict.
import type { Branch, Sink } from './branch.js'
import type { ProviderCounters } from './lab-network.js'
import type { ProviderName } from './topology.js'
import { LAB_POS_PORT } from './lab-policy.js'

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
  /**
   * Packets the provider forwarded from the edge since `before`. A packet found at a sink may have crossed
   * just before `before` was read, so this waits up to 2 s for the next (each flow sends 20 a second).
   */
  const forwardedSince = async (provider: ProviderName, before: ProviderCounters): Promise<number> => {
    const deadline = Date.now() + 2000
    for (;;) {
      const forwarded = (await branch.lab.counters(provider)).fromEdge - before.fromEdge
      if (forwarded > 0 || Date.now() >= deadline) return forwarded
      await new Promise(r => setTimeout(r, 100))
    }
  }
  const arrives = async (sink: Sink, tag: string, source: string | undefined, what: string, from = 0): Promise<string> => {
    const hit = await sink.waitFor(x => x.payload.startsWith(`${tag} `) && (source === undefined || x.source === source), 10_000, what, from)
    return `${tag} arrived from ${hit.source}`
  }

  const ready = await check('every path comes up', async () => {
    const s = await branch.waitForStatus(s => !s.warmingUp && s.paths.every(p => p.state === 'up'), 30_000, 'every path up')
    return s.paths.map(p => `${p.name} ${p.rttMs ?? '-'} ms`).join(', ')
  })
  if (!ready) return checks
  sinks.pos = await branch.startSink('hub', a.hubService, LAB_POS_PORT)
  sinks.voip = await branch.startSink('inet', a.internetHost, 5060)
  sinks.guest = await branch.startSink('inet', a.internetHost, 7001)
  sinks.erp = await branch.startSink('hub', a.hubService, 7002)
  branch.startFlow('pos', a.hubService, LAB_POS_PORT, 42001, 20, 'POS')
  branch.startFlow('voip', a.internetHost, 5060, 5060, 20, 'VOIP')
  branch.startFlow('guest', a.internetHost, 7001, 42003, 20, 'GUEST')
  branch.startFlow('pos', a.hubService, 7002, 42004, 20, 'ERP')
  const posActive = async (path: string): Promise<void> => {
    await branch.waitForStatus(s => s.classes.find(c => c.name === 'pos')?.active[0] === path, 10_000, `POS on ${path}`)
  }
  await check('POS reaches the data centre through IPsec over broadband', async () => {
    await posActive('dc1-bb')
    const before = await branch.lab.counters('bb')
    const got = await arrives(sinks.pos!, 'POS', a.clients.pos, 'POS at the DC', sinks.pos!.arrivals.length)
    if ((await forwardedSince('bb', before)) === 0) throw new Error(`${got}, but the broadband provider forwarded nothing from the edge`)
    return `${got} (not NATed: it came through the tunnel); the daemon has POS on dc1-bb`
  })
  await check('VoIP leaves by LTE', () => arrives(sinks.voip!, 'VOIP', via.lte, 'VoIP via lte'))
  await check('guest leaves by broadband, straight to the internet', () => arrives(sinks.guest!, 'GUEST', via.bb, 'guest via bb'))
  await check('ERP reaches the data centre over MPLS', async () => {
    const before = await branch.lab.counters('mpls')
    const got = await arrives(sinks.erp!, 'ERP', undefined, 'ERP at the hub', sinks.erp!.arrivals.length)
    const forwarded = await forwardedSince('mpls', before)
    if (forwarded === 0) throw new Error(`${got}, but the MPLS provider forwarded nothing from the edge`)
    return `${got}; MPLS forwarded ${forwarded} packets from the edge meanwhile`
  })
  // The orchestrator's view: a subscriber in the data centre collects the edge's events meanwhile.
  const broker = branch.broker
  const events = broker
    ? branch.lab.exec('hub', ['mosquitto_sub', '-h', broker.address, '-p', String(broker.port), '-t', 'sdwan/+/+/events', '-C', '20', '-W', '8'])
    : undefined
  await new Promise(r => setTimeout(r, 300))
  await check('broadband blackout moves POS to IPsec over LTE', async () => {
    const cut = Date.now()
    await branch.lab.impair('bb', { kind: 'blackout' })
    await posActive('dc1-lte')
    const before = await branch.lab.counters('lte')
    const mark = sinks.pos!.arrivals.length
    const hit = await sinks.pos!.waitFor(x => x.payload.startsWith('POS '), 10_000, 'POS at the DC after the blackout', mark)
    if ((await forwardedSince('lte', before)) === 0) throw new Error('POS arrived, but the LTE provider forwarded nothing from the edge')
    return `POS on dc1-lte; a POS packet at the DC ${hit.at - cut} ms after the cut`
  })
  await check("the re-steer reached the orchestrator's broker", async () => {
    if (!events) throw new Error('the lab was started without its broker')
    const seen = (await events).stdout.split('\n').filter(l => l.includes('"re-steer"') && l.includes('"class":"pos"'))
    if (seen.length === 0) throw new Error('no re-steer event for pos arrived on sdwan/+/+/events')
    return `event: ${(JSON.parse(seen[0]!) as { message: string }).message}`
  })
  await branch.lab.restore('bb')
  return checks
}

/** How many checks a complete smoke run makes. */
export const SMOKE_CHECKS = 7
