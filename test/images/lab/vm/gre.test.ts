// GRE on a real kernel, in the VM lab (one boot of Debian's kernel; the host kernel has no GRE): the real
// KernelPort creates, dumps, replaces and removes GRE and ip6gre links, then the real daemon carries ERP
// over a plain GRE tunnel across MPLS to the lab hub, judges the tunnel by probes through it, and drops
// ERP (fail closed) when MPLS blacks out. The pure parts (nft watch, counters, hub commands) are tested
// without the VM.
import t from 'tap'
import { GRE_MODULES, GRE_SUITE, GRE_SUITE_SCRIPT } from '../../../../images/lab/vm/gre-suite.js'
import { runSuite } from '../../../../images/lab/vm/vm-suite.js'
import { assertSuite } from '../helpers/suite-checks.js'
import { greWatchRuleset, parseGreWatch } from '../../../../images/lab/vm/scenarios/gre-watch.js'
import { HUB_GRE_DEVICE, HubGreError, hubGreCommands, parseNstat, startHubGre, summariseThreads } from '../../../../images/lab/hub-gre.js'
import type { CommandRequest } from '../../../../images/lab/command-runner.js'
import type { LongRunningProcess } from '../../../../images/lab/long-running-process.js'
import { LAB_GRE_TUNNEL, labPolicy } from '../../../../images/lab/lab-policy.js'
import { retailBranch } from '../../../../images/lab/topology.js'
import { parsePolicy } from '../../../../edge/config/load.js'
import { vmLabSkip } from '../helpers/lab-capabilities.js'

t.test('the lab policy with ERP over GRE: valid, ERP only on the tunnel, fail closed', async t => {
  const topo = retailBranch('g-')
  const r = parsePolicy('lab.yaml', labPolicy(topo, { erpOverGre: true }))
  if (!r.ok) return t.fail(r.errors.map(e => e.message).join('; '))
  const gre = r.policy.tunnels.find(x => x.name === LAB_GRE_TUNNEL.name)
  t.match(gre, { type: 'gre', uplink: 'mpls', remote: topo.addresses.hubMpls, gre: { key: LAB_GRE_TUNNEL.key } })
  t.match(r.policy.classes.find(c => c.name === 'erp'), { paths: [LAB_GRE_TUNNEL.name], whenNoPath: 'drop' })
  const plain = parsePolicy('lab.yaml', labPolicy(topo))
  t.ok(plain.ok && !plain.policy.tunnels.some(x => x.type === 'gre'), 'without the option the lab has no GRE tunnel (the host kernel has no GRE)')
})

t.test("the hub's GRE end mirrors the edge's tunnel", async t => {
  const topo = retailBranch('g-')
  t.same(hubGreCommands(topo), [
    ['link', 'add', HUB_GRE_DEVICE, 'type', 'gre', 'local', topo.addresses.hubMpls, 'remote', topo.uplinks.mpls.address, 'key', String(LAB_GRE_TUNNEL.key), 'ttl', '64'],
    ['addr', 'add', `${LAB_GRE_TUNNEL.hubInner}/30`, 'dev', HUB_GRE_DEVICE],
    ['link', 'set', HUB_GRE_DEVICE, 'up'],
  ])
})

/** A reflector process that prints `stdout` and `stderr` lines once listened to, then exits with `exit` (or runs on). */
function scriptedReflector(lines: { stdout?: string[]; stderr?: string[]; exit?: number | null }): { spawned: string[][]; spawn: (argv: readonly string[]) => LongRunningProcess } {
  const spawned: string[][] = []
  return {
    spawned,
    spawn: argv => {
      spawned.push([...argv])
      let end: (code: number | null) => void = () => undefined
      const exited = new Promise<number | null>(resolve => (end = resolve))
      let outputs = 0
      const emit = (listener: (text: string) => void, text: string[] | undefined) => {
        setImmediate(() => {
          if (text?.length) listener(text.map(l => `${l}\n`).join(''))
          if (++outputs === 2 && lines.exit !== undefined) end(lines.exit)
        })
      }
      return { pid: 4242, exited, onStdout: l => emit(l, lines.stdout), onStderr: l => emit(l, lines.stderr), kill: () => end(null) }
    },
  }
}

t.test('the hub GRE end resolves once its reflector listens, and fails saying why when it never does', async t => {
  const topo = retailBranch('g-')
  const commands: CommandRequest[] = []
  const run = async (r: CommandRequest) => (commands.push(r), { code: 0, stdout: '', stderr: '' })
  const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, Math.min(ms, 5)))

  const listening = scriptedReflector({ stdout: ['reflecting STAMP on 10.255.0.9 port 862, unauthenticated, 1000/s burst 400 per source'] })
  const hub = await startHubGre(topo, { run, spawn: listening.spawn, sleep })
  t.match(listening.spawned[0], ['ip', 'netns', 'exec', topo.namespaces.hub, process.execPath, '--import'], 'the reflector runs in the hub namespace')
  t.match(listening.spawned[0]!.slice(-6), ['--address', '10.255.0.9', '--port', '862', '--rate', '1000'])
  const beforeSpawn = commands.map(c => c.argv.join(' '))
  t.match(beforeSpawn.slice(0, 3), hubGreCommands(topo).map(a => ['ip', '-n', topo.namespaces.hub, ...a].join(' ')), 'link, address and up before the reflector starts')
  await hub.stop()
  t.equal(commands.at(-1)?.argv.join(' '), `ip -n ${topo.namespaces.hub} link del ${HUB_GRE_DEVICE}`)

  const failing = scriptedReflector({ stderr: ['sdwan-edge reflect: cannot listen on 10.255.0.9 port 862: bind EADDRNOTAVAIL 10.255.0.9:862'], exit: 1 })
  await t.rejects(startHubGre(topo, { run, spawn: failing.spawn, sleep }), HubGreError)
  await t.rejects(startHubGre(topo, { run, spawn: scriptedReflector({ stderr: ['bind EADDRNOTAVAIL'], exit: 1 }).spawn, sleep }), {
    message: /never listened .*reflector \(pid 4242\) ended \(exited 1\); its output: err: bind EADDRNOTAVAIL/,
  })
  t.equal(commands.at(-1)?.argv.join(' '), `ip -n ${topo.namespaces.hub} link del ${HUB_GRE_DEVICE}`, 'a failed start removes the link it made')

  const silent = scriptedReflector({})
  await t.rejects(startHubGre(topo, { run, spawn: silent.spawn, sleep }, 50), { message: /never listened .*running, not listening yet; its output: none/ })
})

t.test('where a stuck process waits, by thread', async t => {
  t.equal(summariseThreads('Sl   ep_poll\nDl   p9_client_rpc\nSl   futex_wait_queue\nSl   futex_wait_queue\n'), '1× Sl ep_poll, 1× Dl p9_client_rpc, 2× Sl futex_wait_queue')
  t.equal(summariseThreads(''), '')
})

t.test('nstat counters by name', async t => {
  const text = '#kernel\nIcmpOutDestUnreachs             188                0.0\nUdpNoPorts                      1759               0.0\n'
  t.same(parseNstat(text, ['UdpNoPorts', 'IcmpOutDestUnreachs', 'UdpInErrors']), { UdpNoPorts: 1759, IcmpOutDestUnreachs: 188, UdpInErrors: undefined })
})

t.test('the GRE watch counts ERP by where it leaves, and GRE', async t => {
  const ruleset = greWatchRuleset('10.20.0.10', 7100)
  t.match(ruleset, /hook forward priority -300; policy accept;/)
  t.match(ruleset, /meta l4proto gre counter name "gre"/)
  t.match(ruleset, /ip daddr 10\.20\.0\.10 udp dport 7100 oifname "sw-\*" counter name "erp_into_tunnel"/)
  t.match(ruleset, /ip daddr 10\.20\.0\.10 udp dport 7100 oifname != "sw-\*" counter name "erp_clear"/)
  const json = JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6' } },
      { counter: { family: 'inet', name: 'gre', table: 'lab_gre_watch', packets: 12, bytes: 1200 } },
      { counter: { family: 'inet', name: 'erp_into_tunnel', table: 'lab_gre_watch', packets: 30, bytes: 3000 } },
      { counter: { family: 'inet', name: 'erp_clear', table: 'lab_gre_watch', packets: 0, bytes: 0 } },
    ],
  })
  t.same(parseGreWatch(json), { gre: 12, erpIntoTunnel: 30, erpClear: 0 })
  t.throws(() => parseGreWatch('{"nftables":[]}'), /no counter "gre"/)
})

t.test('one boot runs both scenarios with both GRE families loaded', async t => {
  t.ok(GRE_MODULES.includes('ip_gre') && GRE_MODULES.includes('ip6_gre'))
  t.match(GRE_SUITE_SCRIPT, /ip netns exec grep-port node --import tsx images\/lab\/vm\/scenarios\/gre-port\.ts; port=\$\?/)
  t.match(GRE_SUITE_SCRIPT, /scenarios\/gre-daemon\.ts; daemon=\$\?\nexit \$\(\(port \| daemon\)\)/)
})

t.test('VM: GRE through the real KernelPort and the real daemon', { skip: vmLabSkip(), timeout: 600_000 }, async t => {
  assertSuite(t, GRE_SUITE, await runSuite(GRE_SUITE))
})
