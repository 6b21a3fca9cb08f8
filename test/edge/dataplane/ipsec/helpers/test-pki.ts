// A throwaway CA and RSA end-entity certificates made with the openssl CLI, for X.509 tunnel tests.
// RSA because the plugin set has no openssl plugin: gmp does RSA, nothing here does ECDSA.
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface TestPki {
  readonly caCertPath: string
  readonly entities: Record<string, { readonly certPath: string; readonly keyPath: string }>
}

export async function openSslMissing(): Promise<string | undefined> {
  try {
    await run('openssl', ['version'])
    return undefined
  } catch {
    return 'openssl CLI not found (images/setup-host.sh installs it)'
  }
}

/** A CA and one certificate per DNS name, each with that name as CN and subjectAltName. */
export async function makeTestPki(dir: string, dnsNames: readonly string[]): Promise<TestPki> {
  const caKey = join(dir, 'ca.key')
  const caCertPath = join(dir, 'ca.crt')
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', caCertPath, '-subj', '/CN=sdwan test CA', '-days', '2'])
  const entities: Record<string, { certPath: string; keyPath: string }> = {}
  for (const name of dnsNames) {
    const keyPath = join(dir, `${name}.key`)
    const csr = join(dir, `${name}.csr`)
    const certPath = join(dir, `${name}.crt`)
    const ext = join(dir, `${name}.ext`)
    await writeFile(ext, `subjectAltName=DNS:${name}\n`)
    await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', csr, '-subj', `/CN=${name}`])
    await run('openssl', ['x509', '-req', '-in', csr, '-CA', caCertPath, '-CAkey', caKey, '-CAcreateserial', '-out', certPath, '-days', '2', '-extfile', ext])
    entities[name] = { certPath, keyPath }
  }
  return { caCertPath, entities }
}
