import t from 'tap'
import { readTunnelCertificateFiles, renderTunnel, type IpsecTunnel } from '../../../../edge/dataplane/ipsec/tunnel-conn.js'

const psk: IpsecTunnel = {
  name: 'wan1-hub1',
  local: { address: '198.51.100.2', ikePort: 14500, id: 'edge1.example' },
  remote: { address: '203.0.113.1', ikePort: 14600, id: 'hub1.example' },
  auth: { kind: 'psk', secret: 'not-a-real-secret' },
  localTs: ['10.1.0.0/24'],
  remoteTs: ['10.9.0.0/16', '10.8.0.0/16'],
  ikeProposals: ['aes256-sha256-x25519'],
  espProposals: ['aes256-sha256'],
  dpdDelaySec: 10,
}

t.test('PSK tunnel → load-conn section and one shared secret owned by both identities', async t => {
  const r = renderTunnel(psk)
  t.equal(r.connName, 'wan1-hub1')
  t.equal(r.childName, 'wan1-hub1')
  t.same(r.loadConn, {
    version: 2,
    local_addrs: ['198.51.100.2'],
    remote_addrs: ['203.0.113.1'],
    local_port: 14500,
    remote_port: 14600,
    proposals: ['aes256-sha256-x25519'],
    encap: true,
    mobike: false,
    dpd_delay: '10s',
    local: { auth: 'psk', id: 'edge1.example' },
    remote: { auth: 'psk', id: 'hub1.example' },
    children: {
      'wan1-hub1': {
        mode: 'tunnel',
        local_ts: ['10.1.0.0/24'],
        remote_ts: ['10.9.0.0/16', '10.8.0.0/16'],
        esp_proposals: ['aes256-sha256'],
        start_action: 'none',
        dpd_action: 'clear',
      },
    },
  })
  t.same(r.shared, [{ id: 'psk-wan1-hub1', type: 'IKE', data: 'not-a-real-secret', owners: ['edge1.example', 'hub1.example'] }])
  t.same(r.keys, [])
})

t.test('without DPD the dpd keys are left out', async t => {
  const r = renderTunnel({ ...psk, dpdDelaySec: undefined })
  t.equal(r.loadConn['dpd_delay'], undefined)
})

t.test('X.509 tunnel → pubkey auth with the cert in local, the CA in remote, and the key to load', async t => {
  const auth = { kind: 'x509', certPath: '/etc/sdwan/edge.crt', keyPath: '/etc/sdwan/edge.key', caCertPath: '/etc/sdwan/ca.crt' } as const
  const read: string[] = []
  const files = await readTunnelCertificateFiles(auth, async path => {
    read.push(path)
    return Buffer.from(`bytes of ${path}`)
  })
  t.same(read.sort(), ['/etc/sdwan/ca.crt', '/etc/sdwan/edge.crt', '/etc/sdwan/edge.key'])
  const r = renderTunnel({ ...psk, auth }, files)
  t.same(r.loadConn['local'], { auth: 'pubkey', id: 'edge1.example', certs: [Buffer.from('bytes of /etc/sdwan/edge.crt')] })
  t.same(r.loadConn['remote'], { auth: 'pubkey', id: 'hub1.example', cacerts: [Buffer.from('bytes of /etc/sdwan/ca.crt')] })
  t.same(r.keys, [{ type: 'any', data: Buffer.from('bytes of /etc/sdwan/edge.key') }])
  t.same(r.shared, [])
  t.equal(await readTunnelCertificateFiles(psk.auth, async () => Buffer.alloc(0)), undefined, 'PSK reads no files')
})

const invalid: Array<{ name: string; tunnel: IpsecTunnel; says: RegExp }> = [
  { name: 'no local selectors', tunnel: { ...psk, localTs: [] }, says: /localTs is empty/ },
  { name: 'no remote selectors', tunnel: { ...psk, remoteTs: [] }, says: /remoteTs is empty/ },
  { name: 'no IKE proposals', tunnel: { ...psk, ikeProposals: [] }, says: /ikeProposals is empty/ },
  { name: 'no ESP proposals', tunnel: { ...psk, espProposals: [] }, says: /espProposals is empty/ },
  { name: 'x509 without files', tunnel: { ...psk, auth: { kind: 'x509', certPath: 'a', keyPath: 'b', caCertPath: 'c' } }, says: /no certificate files/ },
]
for (const c of invalid) {
  t.test(`rejects ${c.name}`, async t => {
    t.throws(() => renderTunnel(c.tunnel), { name: 'TunnelRenderError', tunnel: 'wan1-hub1', message: c.says })
  })
}
