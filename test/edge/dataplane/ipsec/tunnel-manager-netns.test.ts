// The IPsec tunnels layer on this kernel, for real: IpsecTunnelManager (in a child inside the edge
// namespace) runs one kernel-libipsec charon per tunnel against lab hub responders (images/lab/hub-ipsec.ts).
// Each tunnel's TUN becomes sw-<tunnel> with its inner address; LAN traffic routed into it crosses as
// ESP-in-UDP only (nft counters on the hub's underlay interface); set() is idempotent; a killed charon
// comes back (supervisor restart, reload, re-initiate) on a renamed device again; a tunnel no longer wanted
// is stopped and leaves no device or route anchor behind.
import { spawnSync } from 'node:child_process'
import t from 'tap'
import { CHARON } from './helpers/charon-pair.js'
import { startManagerChild, type States } from './helpers/manager-driver.js'
import { inNetns, ip, missingCapability, pingOnce } from './helpers/netns-pair.js'
import { startTunnelBed } from './helpers/tunnel-bed.js'

const missing = (await missingCapability(CHARON)) ?? (spawnSync('nft', ['--version']).status === 0 ? undefined : 'nft (nftables) not found')
if (missing && process.env['CI'] === 'true') {
  t.fail(`CI=true and the IPsec tunnel manager tests cannot run: ${missing}`)
} else if (missing) {
  t.test('IPsec tunnel manager', { skip: `IPsec tunnel manager: ${missing}` }, async () => undefined)
} else {
  t.test('IpsecTunnelManager brings tunnels up, keeps them up and takes them down', { timeout: 240_000 }, async t => {
    const bed = await startTunnelBed('sdt', 2)
    t.teardown(() => bed.destroy())
    const { net } = bed
    const hubVeth = `sdt${process.pid}y`
    const edge = startManagerChild(net.a.netns, bed.policyFile, bed.managerOptions(14_600))
    t.teardown(async () => {
      edge.kill()
      await edge.exited
      if (!t.passing()) t.comment(`manager log:\n${edge.log.slice(-40).join('\n')}\nhub log:\n${bed.hubLog.slice(-30).join('\n')}`)
    })
    const bothUp = (s: States) => s['t1']?.up === true && s['t2']?.up === true
    await edge.ready

    await edge.command('set t1,t2')
    const up = await edge.waitFor(bothUp, 'both tunnels up')
    t.ok(up['t1']?.pid && up['t2']?.pid && up['t1'].pid !== up['t2'].pid, 'one charon per tunnel')
    const links = await ip('-n', net.a.netns, '-o', 'link', 'show')
    t.match(links, /: sw-t1: /, 'the TUN of t1 is named sw-t1')
    t.match(links, /: sw-t2: /, 'the TUN of t2 is named sw-t2')
    t.match(await ip('-n', net.a.netns, '-o', 'addr', 'show', 'dev', 'sw-t1'), /inet 10\.255\.0\.2\/30/, 'the inner address is on sw-t1')

    t.match(links, /: sw-t1: [^\n]* mtu 1400 /, "at libipsec's MTU")
    t.ok(await pingOnce(net.a.netns, '10.255.0.2', '10.255.0.1'), 'hub inner address of t1 answers through sw-t1')
    // A full-size packet (DF, 1400 bytes) crosses whole: larger ones would be cut by libipsec's buffers.
    const fullSize = await inNetns(net.a.netns, 'ping', '-n', '-q', '-c', '1', '-W', '2', '-M', 'do', '-s', '1372', '-I', '10.255.0.2', '10.255.0.1').then(() => true, () => false)
    t.ok(fullSize, 'a 1400-byte packet crosses the tunnel and comes back')
    t.ok(await pingOnce(net.a.netns, '10.255.0.6', '10.255.0.5'), 'hub inner address of t2 answers through sw-t2')

    // The dataplane's part: the path table routes the hub's prefixes into the tunnel device.
    await ip('-n', net.a.netns, 'route', 'add', '10.2.0.0/24', 'dev', 'sw-t1')
    // The bed's hub routes the branch back in the clear (as over MPLS in the lab): only the connmark keeps
    // replies in the tunnel, and the counters below would see them if it did not.
    const ruleset = [
      'table inet sdwan_test {',
      '  counter cleartext {}',
      '  counter espinudp {}',
      '  chain in {',
      '    type filter hook prerouting priority -300; policy accept;',
      `    iifname "${hubVeth}" ip protocol icmp counter name cleartext`,
      `    iifname "${hubVeth}" udp dport { 15500-15503 } counter name espinudp`,
      '  }',
      '  chain out {',
      '    type filter hook postrouting priority 300; policy accept;',
      `    oifname "${hubVeth}" ip protocol icmp counter name cleartext`,
      `    oifname "${hubVeth}" udp sport { 15500-15503 } counter name espinudp`,
      '  }',
      '}',
    ].join('\n')
    t.equal(spawnSync('ip', ['netns', 'exec', net.b.netns, 'nft', '-f', '-'], { input: ruleset }).status, 0, 'hub counters loaded')
    let lanOk = false
    for (let i = 0; i < 5 && !lanOk; i++) lanOk = await pingOnce(net.a.netns, net.a.inner, net.b.inner)
    t.ok(lanOk, `LAN ${net.a.inner} reaches the DC ${net.b.inner} through sw-t1`)
    const counters = JSON.parse(await inNetns(net.b.netns, 'nft', '-j', 'list', 'counters', 'table', 'inet', 'sdwan_test')) as { nftables: Array<{ counter?: { name: string; packets: number } }> }
    const packets = (name: string) => counters.nftables.find(e => e.counter?.name === name)?.counter?.packets ?? -1
    t.equal(packets('cleartext'), 0, 'no cleartext ICMP on the underlay, either way')
    t.ok(packets('espinudp') >= 2, `ESP-in-UDP on the underlay, both ways (${packets('espinudp')} packets)`)

    await t.test('set() again with the same conns changes nothing', async t => {
      const before = { ...edge.states }
      await edge.command('set t1,t2')
      t.same(edge.states, before, 'same charons, same states')
    })

    await t.test('a killed charon comes back: restarted, reloaded, re-initiated, renamed', async t => {
      const oldPid = edge.states['t1']!.pid!
      process.kill(oldPid, 'SIGKILL')
      await edge.waitFor(s => s['t1']?.up === false, 't1 reported down')
      t.pass('t1 reported down when its charon died')
      const back = await edge.waitFor(s => s['t1']?.up === true && s['t1'].pid !== oldPid, 't1 up again')
      t.not(back['t1']?.pid, oldPid, 'a new charon')
      t.equal(edge.states['t2']?.up, true, 't2 was not disturbed')
      t.match(await ip('-n', net.a.netns, '-o', 'link', 'show'), /: sw-t1: /, 'the new TUN is sw-t1 again')
      // The route into sw-t1 died with the old device; the dataplane puts it back on the next apply.
      await ip('-n', net.a.netns, 'route', 'replace', '10.2.0.0/24', 'dev', 'sw-t1')
      let ok = false
      for (let i = 0; i < 10 && !ok; i++) ok = await pingOnce(net.a.netns, net.a.inner, net.b.inner)
      t.ok(ok, 'LAN traffic crosses the new charon')
    })

    await t.test('a tunnel no longer wanted is stopped and leaves nothing behind', async t => {
      const t2pid = edge.states['t2']!.pid
      await edge.command('set t2')
      t.same(edge.states['t1'], {}, 't1 no longer reported')
      t.equal(edge.states['t2']?.pid, t2pid, 't2 kept its charon')
      const links = await ip('-n', net.a.netns, '-o', 'link', 'show')
      t.notMatch(links, /: sw-t1: /, 'sw-t1 is gone')
      t.equal(links.match(/: ipsec\d+: /g)?.length ?? 0, 1, "only t2's route anchor is left")
      await edge.command('stop')
      t.equal(await edge.exited, 0, 'the manager child stops cleanly')
      const after = await ip('-n', net.a.netns, '-o', 'link', 'show')
      t.notMatch(after, /: (sw-|ipsec)/, 'no tunnel device or anchor left')
    })
  })
}
