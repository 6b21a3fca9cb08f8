// The retail branch on the host kernel: every LAN client reaches the hub and the internet, each uplink's
// traffic goes through its own provider, blackout and carrier loss take effect and are undone, netem is
// reported missing (this kernel has no sch_netem), and teardown leaves nothing behind.
import t from 'tap'
import { spawnCommandRunner } from '../../../images/lab/command-runner.js'
import { buildLab, NO_NETEM, teardownLab, type Lab } from '../../../images/lab/lab-network.js'
import { CLIENTS, PROVIDERS, retailBranch, type NodeName, type ProviderName } from '../../../images/lab/topology.js'
import { hostLabSkip } from './helpers/lab-capabilities.js'

const run = spawnCommandRunner()
const PREFIX = `ht${process.pid}-`

async function pings(lab: Lab, node: NodeName, target: string, ifname?: string, waitS = 1): Promise<boolean> {
  const via = ifname === undefined ? [] : ['-I', ifname]
  const result = await lab.exec(node, ['ping', '-n', '-q', '-c', '1', '-W', String(waitS), ...via, target])
  return result.code === 0
}

/** Far-side address each uplink is checked against: the hub's internet address, or its MPLS one. */
function farSide(lab: Lab, provider: ProviderName): string {
  return provider === 'mpls' ? lab.topology.addresses.hubMpls : lab.topology.addresses.hubPublic
}

async function ipObjects(): Promise<string> {
  const namespaces = (await run({ argv: ['ip', 'netns', 'list'] })).stdout
  const links = (await run({ argv: ['ip', '-o', 'link', 'show'] })).stdout
  return `${namespaces}\n${links}`
}

t.test('retail branch on the host kernel', { skip: hostLabSkip() }, async t => {
  const lab = await buildLab(retailBranch(PREFIX), run)
  t.teardown(() => teardownLab(PREFIX, run))
  const { addresses } = lab.topology

  t.test('netem profiles are reported as not applied', async t => {
    for (const provider of PROVIDERS) {
      // The host kernel lacks sch_netem; where it has it (a full kernel), the profile is applied.
      t.ok(lab.netem[provider].applied || lab.netem[provider].detail === NO_NETEM, `${provider}: ${lab.netem[provider].detail}`)
    }
    if (!lab.netem.bb.applied) await t.rejects(lab.impair('bb', { kind: 'delay', rttMs: 100 }), { name: 'NetemUnavailableError', message: /no netem/ })
  })

  t.test('each LAN client reaches the hub and the internet', async t => {
    for (const client of CLIENTS) {
      t.ok(await pings(lab, client, addresses.hubPublic), `${client} → hub ${addresses.hubPublic} (internet, NAT on bb)`)
      t.ok(await pings(lab, client, addresses.hubService), `${client} → hub service ${addresses.hubService} (mpls)`)
      t.ok(await pings(lab, client, addresses.internetHost), `${client} → internet ${addresses.internetHost}`)
    }
  })

  t.test('traffic out of each uplink goes through that provider and only it', async t => {
    for (const provider of PROVIDERS) {
      const before = await Promise.all(PROVIDERS.map(p => lab.counters(p)))
      t.ok(await pings(lab, 'edge', farSide(lab, provider), lab.topology.uplinks[provider].ifname), `edge → ${farSide(lab, provider)} via ${provider}`)
      const after = await Promise.all(PROVIDERS.map(p => lab.counters(p)))
      PROVIDERS.forEach((p, i) => {
        const forwardedUp = (after[i]?.fromEdge ?? 0) - (before[i]?.fromEdge ?? 0)
        const forwardedDown = (after[i]?.toEdge ?? 0) - (before[i]?.toEdge ?? 0)
        if (p === provider) t.ok(forwardedUp >= 1 && forwardedDown >= 1, `${p} forwarded the request and the reply (${forwardedUp} up, ${forwardedDown} down)`)
        else t.equal(forwardedUp + forwardedDown, 0, `${p} carried none of ${provider}'s traffic`)
      })
    }
  })

  t.test('blackout drops silently and is undone', async t => {
    const gateway = lab.topology.uplinks.bb.gateway
    await lab.impair('bb', { kind: 'blackout' })
    t.notOk(await pings(lab, 'edge', addresses.hubPublic, 'wan-bb'), 'nothing passes broadband during the blackout')
    t.ok(await pings(lab, 'edge', gateway, 'wan-bb'), 'the broadband gateway itself still answers (upstream outage)')
    t.ok(await pings(lab, 'edge', addresses.hubPublic, 'wan-lte'), 'LTE is unaffected')
    await lab.restore('bb')
    t.ok(await pings(lab, 'edge', addresses.hubPublic, 'wan-bb'), 'broadband passes again after restore')
  })

  t.test('carrier loss takes the edge interface down and is undone', async t => {
    const ifname = lab.topology.uplinks.lte.ifname
    await lab.impair('lte', { kind: 'carrier-loss' })
    const down = (await lab.exec('edge', ['ip', '-o', 'link', 'show', ifname])).stdout
    t.match(down, /NO-CARRIER/, `${ifname} reports NO-CARRIER`)
    t.notOk(await pings(lab, 'edge', addresses.hubPublic, ifname), 'nothing passes LTE')
    await lab.restore('lte')
    const up = (await lab.exec('edge', ['ip', '-o', 'link', 'show', ifname])).stdout
    t.match(up, /LOWER_UP/, `${ifname} has carrier again`)
    // The ping during the outage left the gateway's ARP entry INCOMPLETE; the next one queues behind it
    // until the kernel's next solicitation (retrans_time, 1 s), so one second is not always enough.
    t.ok(await pings(lab, 'edge', addresses.hubPublic, ifname, 3), 'LTE passes again')
  })

  t.test('a loss burst drops part of the traffic and is undone', async t => {
    const burst = async () => {
      const result = await lab.exec('edge', ['ping', '-n', '-q', '-c', '40', '-i', '0.01', '-W', '1', '-I', 'wan-mpls', addresses.hubMpls])
      return Number(/(\d+) received/.exec(result.stdout)?.[1] ?? -1)
    }
    await lab.impair('mpls', { kind: 'loss', percent: 50 })
    // 50% each way: a round trip survives with p = 0.25, so all 40 lost or all answered is ~1e-5 likely.
    const lossy = await burst()
    t.ok(lossy > 0 && lossy < 40, `50% loss: ${lossy}/40 answered`)
    await lab.impair('mpls', { kind: 'loss', percent: 100 })
    t.equal(await burst(), 0, '100% loss: none answered')
    await lab.restore('mpls')
    t.equal(await burst(), 40, 'after restore: all answered')
  })

  t.test('teardown removes every namespace and link, and is idempotent', async t => {
    const removed = await lab.teardown()
    t.equal(removed.length, 9, `removed ${removed.join(', ')}`)
    const left = await ipObjects()
    t.notMatch(left, PREFIX, 'no namespace or link carries the prefix')
    t.same(await teardownLab(PREFIX, run), [], 'a second teardown finds nothing')
  })
})

t.test('teardown after a crash finds leftovers by prefix', { skip: hostLabSkip() }, async t => {
  const prefix = `hc${process.pid}-`
  t.teardown(() => teardownLab(prefix, run))
  // A half-built lab: what a run killed between steps leaves, plus a process still inside a namespace.
  await run({ argv: ['ip', 'netns', 'add', `${prefix}edge`] })
  await run({ argv: ['ip', 'netns', 'add', `${prefix}bb`] })
  await run({ argv: ['ip', '-n', `${prefix}edge`, 'link', 'add', 'wan-bb', 'type', 'veth', 'peer', 'name', 'cust', 'netns', `${prefix}bb`] })
  const sleeper = run({ argv: ['ip', 'netns', 'exec', `${prefix}bb`, 'sleep', '60'] })
  await new Promise(resolve => setTimeout(resolve, 100))
  const removed = await teardownLab(prefix, run)
  t.same(removed.sort(), [`${prefix}bb`, `${prefix}edge`], 'both leftovers found by prefix')
  t.not((await sleeper).code, 0, 'the process left in a namespace was killed')
  t.notMatch(await ipObjects(), prefix, 'nothing with the prefix remains')
})
