// A throwaway PKI for broker tests, made with the openssl CLI in a temp directory: a CA, the broker's
// certificate (SAN IP:127.0.0.1), client certificates whose CN is the MQTT username (mosquitto's
// use_identity_as_username), and a rogue CA with a client certificate the broker must refuse.
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface ClientCredentials {
  readonly certFile: string
  readonly keyFile: string
}

export interface TestPki {
  readonly dir: string
  readonly caFile: string
  readonly server: ClientCredentials
  readonly client: (commonName: string) => ClientCredentials
  /** Signed by a CA the broker does not trust. */
  readonly rogueClient: (commonName: string) => ClientCredentials
}

function openssl(dir: string, ...args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error?.message}`)
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

function makeCa(dir: string, name: string): void {
  openssl(dir, 'req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`)
}

function issue(dir: string, ca: string, name: string, commonName: string, extensions: string): ClientCredentials {
  writeFileSync(join(dir, `${name}.ext`), extensions)
  openssl(dir, 'req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${commonName}`)
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`)
  return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) }
}

export function makeTestPki(dir: string): TestPki {
  makeCa(dir, 'ca')
  makeCa(dir, 'rogue-ca')
  const server = issue(dir, 'ca', 'server', 'broker', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  const clientExt = 'extendedKeyUsage=clientAuth\n'
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    server,
    client: cn => issue(dir, 'ca', `client-${cn}`, cn, clientExt),
    rogueClient: cn => issue(dir, 'rogue-ca', `rogue-${cn}`, cn, clientExt),
  }
}
