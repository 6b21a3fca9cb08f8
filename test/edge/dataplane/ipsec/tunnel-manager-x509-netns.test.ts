// X.509 through the tunnels layer, for real: the policy names a certificate, key and CA file instead of a
// PSK; IpsecTunnelManager reads them, loads the key and the certificates into its charon and brings the
// tunnel up against a hub responder that authenticates with a certificate of the same throwaway CA.
// LAN traffic then crosses the tunnel.
import t from 'tap'
import { CHARON } from './helpers/charon-pair.js'
import { startManagerChild } from './helpers/manager-driver.js'
import { missingCapability, pingOnce } from './helpers/netns-pair.js'
import { openSslMissing } from './helpers/test-pki.js'
import { startTunnelBed } from './helpers/tunnel-bed.js'

const missing = (await missingCapability(CHARON)) ?? (await openSslMissing())
if (missing && process.env['CI'] === 'true') {
  t.fail(`CI=true and the X.509 tunnel manager test cannot run: ${missing}`)
} else if (missing) {
  t.test('IPsec tunnel manager with X.509', { skip: `IPsec tunnel manager with X.509: ${missing}` }, async () => undefined)
} else {
  t.test('IpsecTunnelManager authenticates a tunnel with X.509 certificates from the policy', { timeout: 180_000 }, async t => {
    const bed = await startTunnelBed('sdc', 1, 15_520, 'x509')
    t.teardown(() => bed.destroy())
    const edge = startManagerChild(bed.net.a.netns, bed.policyFile, bed.managerOptions(14_640))
    t.teardown(async () => {
      edge.kill()
      await edge.exited
      if (!t.passing()) t.comment(`manager log:\n${edge.log.slice(-40).join('\n')}\nhub log:\n${bed.hubLog.slice(-30).join('\n')}`)
    })
    await edge.ready
    await edge.command('set t1')
    const up = await edge.waitFor(s => s['t1']?.up === true, 't1 up')
    t.ok(up['t1']?.pid, 'the tunnel is up with its own charon')
    t.ok(bed.hubLog.some(l => /authentication of 'edge\.test' with RSA/.test(l)), "the hub checked the edge's certificate signature")
    let ok = false
    for (let i = 0; i < 10 && !ok; i++) ok = await pingOnce(bed.net.a.netns, bed.inner('t1').edge.split('/')[0]!, bed.inner('t1').hub)
    t.ok(ok, "the hub's inner address answers through the certificate-authenticated tunnel")
    await edge.command('stop')
    t.equal(await edge.exited, 0, 'the manager child stops cleanly')
  })
}
