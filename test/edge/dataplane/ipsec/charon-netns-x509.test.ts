// Real charon daemons in namespaces authenticating with X.509 (RSA) certificates instead of a PSK:
// load-key, load-cert and certificate data inside load-conn, through the same tunnel rendering.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { readTunnelCertificateFiles } from '../../../../edge/dataplane/ipsec/tunnel-conn.js'
import { CHARON, loadTunnel, startCharonPair, tunnelBetween } from './helpers/charon-pair.js'
import { missingCapability, pingOnce } from './helpers/netns-pair.js'
import { makeTestPki, openSslMissing } from './helpers/test-pki.js'

const missing = (await missingCapability(CHARON)) ?? (await openSslMissing())
if (missing && process.env['CI'] === 'true') {
  t.fail(`CI=true and real-charon X.509 tests cannot run: ${missing}`)
} else if (missing) {
  t.test('real charon X.509', { skip: `real charon X.509: ${missing}` }, async () => undefined)
} else {
  t.test('X.509 tunnel between two supervised charons in namespaces', { timeout: 120_000 }, async t => {
    const { net, dir, a, b } = await startCharonPair(t, 'sdx')
    const pki = await makeTestPki(dir, ['edge.example', 'hub.example'])
    const authOf = (name: string) => ({ kind: 'x509', ...pki.entities[name]!, caCertPath: pki.caCertPath }) as const
    const edge = tunnelBetween(net.a, net.b, { local: 'edge.example', remote: 'hub.example' }, authOf('edge.example'))
    const hub = tunnelBetween(net.b, net.a, { local: 'hub.example', remote: 'edge.example' }, authOf('hub.example'))
    const read = (path: string): Promise<Uint8Array> => readFile(path)
    await loadTunnel(a.client, edge, await readTunnelCertificateFiles(edge.auth, read))
    await loadTunnel(b.client, hub, await readTunnelCertificateFiles(hub.auth, read))
    // load-cert of the CA as well: a CA credential charon can also use for trust chains of other conns.
    await a.client.loadCert({ type: 'X509', flag: 'CA', data: await readFile(pki.caCertPath) })
    await t.rejects(a.client.loadCert({ type: 'X509', data: 'not a certificate' }), { name: 'ViciCommandError', command: 'load-cert' })

    await a.client.initiate({ child: edge.name, ike: edge.name })
    const [sa] = await a.client.listSas()
    t.equal(sa?.state, 'ESTABLISHED', 'IKE_SA up with certificate authentication')
    t.equal(sa?.remoteId, 'hub.example')
    t.equal(sa?.children[0]?.state, 'INSTALLED')
    let replied = false
    for (let i = 0; i < 10 && !replied; i++) replied = await pingOnce(net.a.netns, net.a.inner, net.b.inner)
    t.ok(replied, 'ping through the certificate-authenticated tunnel')
    await a.client.terminate({ ike: edge.name })
    t.same(await b.client.listSas(), [], 'the responder saw the delete')
  })
}
