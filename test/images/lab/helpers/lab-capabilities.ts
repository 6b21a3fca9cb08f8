// Whether this machine can run the real-kernel lab tests, as a tap `skip` value: false to run, or a
// one-line reason. With CI=true nothing may skip (test tiers in DESIGN.md), so the reason is dropped and
// the test runs — and fails loudly if the capability really is missing.
import { execFileSync } from 'node:child_process'

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "$0"', name], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

function skipUnlessCi(reason: string | undefined): string | false {
  if (reason === undefined || process.env.CI === 'true') return false
  return reason
}

/** Network namespaces, veth and nftables on the host kernel, as root. */
export function hostLabSkip(): string | false {
  if (process.getuid?.() !== 0) return skipUnlessCi('needs root for network namespaces')
  if (!hasCommand('ip')) return skipUnlessCi('needs iproute2 (images/setup-host.sh)')
  if (!hasCommand('nft')) return skipUnlessCi('needs nftables (images/setup-host.sh)')
  return skipUnlessCi(undefined)
}

export function brokerSkip(): string | false {
  return hostLabSkip() || skipUnlessCi(hasCommand('mosquitto') ? undefined : 'needs mosquitto (images/setup-host.sh)')
}

/** QEMU and the tools that unpack the kernel; the kernel itself comes from apt or the cache. */
export function vmLabSkip(): string | false {
  if (process.getuid?.() !== 0) return skipUnlessCi('needs root (apt-get download, cache in /var/cache)')
  for (const tool of ['qemu-system-x86_64', 'busybox', 'xz', 'dpkg']) {
    if (!hasCommand(tool)) return skipUnlessCi(`needs ${tool} (images/setup-host.sh)`)
  }
  return skipUnlessCi(undefined)
}
