// Real charon-systemd daemons (kernel-libipsec) in two throwaway namespaces: the supervisor starts them, the
// VICI client configures a PSK tunnel and brings it up, traffic crosses the libipsec TUN, the event
// subscription sees it, and a killed charon comes back with the subscription re-registered.
import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CharonSupervisor, type CharonSupervisorEvent } from '../../../../edge/dataplane/ipsec/charon-supervisor.js'
import type { CharonInstance } from '../../../../edge/dataplane/ipsec/charon-config.js'
import { nodeSpawnCharon } from '../../../../edge/dataplane/ipsec/node-spawn.js'
import { renderTunnel, type IpsecTunnel } from '../../../../edge/dataplane/ipsec/tunnel-conn.js'
import { ViciClient } from '../../../../edge/dataplane/vici/client.js'
import { ViciEventSubscriber } from '../../../../edge/dataplane/vici/event-subscriber.js'
import type { ViciMessage } from '../../../../edge/dataplane/vici/message.js'
import { realTimers } from '../../../../edge/dataplane/vici/retry.js'
import { parseUpdown } from '../../../../edge/dataplane/vici/sa-state.js'
import { unixSocketConnect } from '../../../../edge/dataplane/vici/unix-socket.js'
import { createNetnsPair, missingCapability, pingOnce } from './helpers/netns-pair.js'
import { Recorder } from '../vici/helpers/recorder.js'

const CHARON = '/usr/sbin/charon-systemd'
const IKE_PORT = 14500 // not 500/4500: per-uplink charons each need their own ports
const NATT_PORT = 14501

const missing = await missingCapability(CHARON)
if (missing && process.env['CI'] === 'true') {
  t.fail(`CI=true and real-charon tests cannot run: ${missing}`)
} else if (missing) {
  t.test('real charon', { skip: `real charon: ${missing}` }, async () => undefined)
} else {
  t.test('PSK tunnel between two supervised charons in namespaces', async t => {
    const dir = await mkdtemp(join(tmpdir(), 'sdwan-charon-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const pair = await createNetnsPair('sdv')
    t.teardown(() => pair.destroy())

    const supervisorEvents = new Recorder<CharonSupervisorEvent>()
    const supervise = (side: 'a' | 'b', netns: string): CharonSupervisor => {
      const instance: CharonInstance = {
        name: side,
        netns,
        confPath: join(dir, `${side}.conf`),
        viciSocketPath: join(dir, `${side}.vici`),
        ikePort: IKE_PORT,
        natTPort: NATT_PORT,
        routingTable: 220,
        routingTablePrio: 220,
        installRoutes: true,
      }
      const log: string[] = []
      const supervisor = new CharonSupervisor(
        instance,
        { spawn: nodeSpawnCharon, writeFile: (p, text) => writeFile(p, text), connectVici: unixSocketConnect, timers: realTimers, now: () => performance.now(), env: process.env },
        {
          restartBackoff: { initialMs: 100, maxMs: 2000 },
          onLog: line => log.push(line),
          onEvent: e => side === 'a' && supervisorEvents.push(e),
        },
      )
      // Stop before the namespaces go (teardowns run in reverse order), and show charon's log on failure.
      t.teardown(async () => {
        await supervisor.stop()
        if (!t.passing()) t.comment(`charon ${side} log:\n${log.slice(-60).join('\n')}`)
      })
      return supervisor
    }
    const supA = supervise('a', pair.a.netns)
    const supB = supervise('b', pair.b.netns)
    const [versionA] = await Promise.all([supA.start(), supB.start()])
    t.equal(versionA.daemon, 'charon-systemd', 'VICI answers version once started')
    t.match(versionA.version, /^5\./)

    const updowns = new Recorder<{ event: string; message: ViciMessage }>()
    const registrations = new Recorder<number>()
    const subscriber = new ViciEventSubscriber({
      connect: unixSocketConnect(supA.instance.viciSocketPath),
      events: ['ike-updown', 'child-updown'],
      onEvent: (event, message) => updowns.push({ event, message }),
      onRegistered: generation => registrations.push(generation),
      timers: realTimers,
      backoff: { initialMs: 50, maxMs: 1000 },
    })
    subscriber.start()
    t.teardown(() => subscriber.stop())
    await registrations.waitFor(g => g === 1)

    const clientA = await ViciClient.connect(unixSocketConnect(supA.instance.viciSocketPath))
    const clientB = await ViciClient.connect(unixSocketConnect(supB.instance.viciSocketPath))
    t.teardown(() => {
      clientA.close()
      clientB.close()
    })
    const tunnel = (local: typeof pair.a, remote: typeof pair.b, localId: string, remoteId: string): IpsecTunnel => ({
      name: 'up1-hub',
      local: { address: local.underlay, ikePort: IKE_PORT, id: localId },
      remote: { address: remote.underlay, ikePort: IKE_PORT, id: remoteId },
      auth: { kind: 'psk', secret: `test-secret-${process.pid}` },
      localTs: [`${local.inner}/32`],
      remoteTs: [`${remote.inner}/32`],
      ikeProposals: ['aes256-sha256-modp2048'],
      espProposals: ['aes256-sha256'],
    })
    const load = async (client: ViciClient, spec: IpsecTunnel): Promise<void> => {
      const rendered = renderTunnel(spec)
      for (const secret of rendered.shared) await client.loadShared(secret)
      await client.loadConn(rendered.connName, rendered.loadConn)
    }
    const edgeTunnel = tunnel(pair.a, pair.b, 'edge.example', 'hub.example')
    await load(clientA, edgeTunnel)
    await load(clientB, tunnel(pair.b, pair.a, 'hub.example', 'edge.example'))
    t.same(await clientA.getConns(), ['up1-hub'], 'get-conns lists the loaded conn')
    const conns = await clientA.listConns()
    t.same(conns.map(c => c.name), ['up1-hub'], 'list-conns streams it')

    await t.rejects(clientA.initiate({ child: 'no-such-child' }), { name: 'ViciCommandError', command: 'initiate' }, 'failure becomes a typed error')

    const started = performance.now()
    await clientA.initiate({ child: edgeTunnel.name, ike: edgeTunnel.name })
    let pings = 0
    let replied = false
    while (!replied && pings < 10) {
      pings++
      replied = await pingOnce(pair.a.netns, pair.a.inner, pair.b.inner)
    }
    const firstPingMs = performance.now() - started
    t.ok(replied, `ping ${pair.a.inner} → ${pair.b.inner} through the libipsec TUN (${pings} attempt(s))`)
    t.comment(`measured: VICI initiate → first ping reply ${firstPingMs.toFixed(1)} ms (includes spawning ip netns exec ping)`)

    const sas = await clientA.listSas()
    t.equal(sas.length, 1, 'one IKE_SA')
    t.equal(sas[0]?.state, 'ESTABLISHED')
    t.equal(sas[0]?.remoteId, 'hub.example')
    t.equal(sas[0]?.children[0]?.state, 'INSTALLED')
    t.equal(sas[0]?.children[0]?.encap, true, 'libipsec runs ESP in UDP')
    t.ok((sas[0]?.children[0]?.packetsOut ?? 0) >= 1, 'the ping went out through the CHILD_SA')

    const childUp = await updowns.waitFor(u => u.event === 'child-updown' && parseUpdown(u.message).up)
    t.equal(parseUpdown(childUp.message).ikeSas[0]?.children[0]?.name, 'up1-hub', 'child-updown up event names the CHILD_SA')
    await updowns.waitFor(u => u.event === 'ike-updown' && parseUpdown(u.message).up)

    await clientA.terminate({ ike: edgeTunnel.name })
    t.same(await clientA.listSas(), [], 'no SAs after terminate')
    await updowns.waitFor(u => u.event === 'child-updown' && !parseUpdown(u.message).up)
    t.pass('child-updown down event seen')
    t.notOk(await pingOnce(pair.a.netns, pair.a.inner, pair.b.inner), 'no inner traffic once the tunnel is down')

    // charon dies: the supervisor restarts it, the subscriber reconnects and registers again.
    const oldPid = supA.pid
    t.ok(oldPid, 'charon a has a pid')
    process.kill(oldPid!, 'SIGKILL')
    const restarted = await supervisorEvents.waitFor(e => e.kind === 'ready' && e.pid !== oldPid)
    t.not(restarted.kind === 'ready' && restarted.pid, oldPid, 'a new charon answers VICI')
    t.ok(supervisorEvents.items.some(e => e.kind === 'exited' && e.pid === oldPid && e.willRestart), 'the death was seen as unexpected')
    await registrations.waitFor(g => g === 2)
    t.pass('event subscription re-registered on the new charon')

    // The new charon has no config: load it again and prove the re-registered subscription delivers.
    const clientA2 = await ViciClient.connect(unixSocketConnect(supA.instance.viciSocketPath))
    t.teardown(() => clientA2.close())
    await load(clientA2, edgeTunnel)
    const before = updowns.items.length
    await clientA2.initiate({ child: edgeTunnel.name, ike: edgeTunnel.name })
    await updowns.waitFor((u, i) => i >= before && u.event === 'child-updown' && parseUpdown(u.message).up)
    t.pass('child-updown arrives over the re-registered subscription')
    t.ok(await pingOnce(pair.a.netns, pair.a.inner, pair.b.inner), 'traffic flows again after the restart')
  })
}
