// The marks that tie a libipsec charon to its uplink, on a real charon: the rule kernel-netlink adds for
// the tunnel routing table matches only packets with the uplink's steering mark, and everything charon
// sends (IKE and ESP in UDP) carries the uplink's socket mark. nftables counters in the namespace prove it.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { CHARON, IKE_PORT, loadTunnel, startCharonPair, tunnelBetween } from './helpers/charon-pair.js'
import { inNetns, missingCapability } from './helpers/netns-pair.js'

const STEER_MARK = '0x100/0xff00'
const SOCKET_MARK = 0x200

async function nftMissing(): Promise<string | undefined> {
  return spawnSync('nft', ['--version']).status === 0 ? undefined : 'nft (nftables) not found'
}

const missing = (await missingCapability(CHARON)) ?? (await nftMissing())
if (missing && process.env['CI'] === 'true') {
  t.fail(`CI=true and real-charon fwmark tests cannot run: ${missing}`)
} else if (missing) {
  t.test('real charon fwmarks', { skip: `real charon fwmarks: ${missing}` }, async () => undefined)
} else {
  t.test('route rule and socket fwmarks of a libipsec charon', { timeout: 120_000 }, async t => {
    const { net, a, b } = await startCharonPair(t, 'sdm', {
      a: { routeRuleFwmark: STEER_MARK, socketFwmark: SOCKET_MARK, routingTable: 1101, routingTablePrio: 1101 },
    })
    t.match(await inNetns(net.a.netns, 'ip', 'rule', 'show'), /^1101:\s+from all fwmark 0x100\/0xff00 lookup 1101/m, 'charon added a mark-restricted rule')

    // Count what charon sends to the peer's IKE port, split by socket mark (our own table, in our own netns).
    const ruleset = [
      'table inet sdwan_test {',
      '  chain out {',
      '    type filter hook output priority 0; policy accept;',
      `    udp dport ${IKE_PORT} meta mark ${SOCKET_MARK} counter name marked`,
      `    udp dport ${IKE_PORT} meta mark != ${SOCKET_MARK} counter name unmarked`,
      '  }',
      '  counter marked {}',
      '  counter unmarked {}',
      '}',
    ].join('\n')
    const loaded = spawnSync('ip', ['netns', 'exec', net.a.netns, 'nft', '-f', '-'], { input: ruleset })
    t.equal(loaded.status, 0, `nft ruleset loaded ${loaded.stderr.toString()}`)

    const auth = { kind: 'psk', secret: `fwmark-${process.pid}` } as const
    const edge = tunnelBetween(net.a, net.b, { local: 'edge.example', remote: 'hub.example' }, auth)
    await loadTunnel(a.client, edge)
    await loadTunnel(b.client, tunnelBetween(net.b, net.a, { local: 'hub.example', remote: 'edge.example' }, auth))
    await a.client.initiate({ child: edge.name, ike: edge.name })
    t.match(await inNetns(net.a.netns, 'ip', 'route', 'show', 'table', '1101'), new RegExp(`^${net.b.inner.replace(/\./g, '\\.')} dev \\S+`, 'm'), 'tunnel route in the uplink table')

    const ping = (mark?: number): Promise<boolean> =>
      inNetns(net.a.netns, 'ping', '-n', '-q', '-c', '1', '-W', '1', ...(mark ? ['-m', String(mark)] : []), '-I', net.a.inner, net.b.inner).then(
        () => true,
        () => false,
      )
    t.notOk(await ping(), 'unmarked traffic does not enter the tunnel')
    let replied = false
    for (let i = 0; i < 10 && !replied; i++) replied = await ping(0x100)
    t.ok(replied, 'traffic with the steering mark goes through the tunnel')

    const counters = JSON.parse(await inNetns(net.a.netns, 'nft', '-j', 'list', 'counters', 'table', 'inet', 'sdwan_test')) as {
      nftables: Array<{ counter?: { name: string; packets: number } }>
    }
    const packets = (name: string): number => counters.nftables.find(e => e.counter?.name === name)?.counter?.packets ?? -1
    t.ok(packets('marked') >= 3, `IKE and ESP-in-UDP left with the socket mark (${packets('marked')} packets)`)
    t.equal(packets('unmarked'), 0, 'nothing charon sent lacked the mark')
  })
}
