// The QEMU command line of a lab VM, as data. TCG only: this machine kind has no usable KVM (PVM host),
// and `thread=multi` gives each vCPU its own host thread. No NIC is configured (-nodefaults, -nic none),
// so nothing in the guest can reach beyond the VM; the host's files arrive over virtio-9p.
import type { VmImage } from './vm-image-cache.js'

export interface NinePShare {
  readonly tag: string
  readonly hostPath: string
  readonly readonly: boolean
}

export interface QemuCommandInput {
  readonly image: VmImage
  readonly shares: readonly NinePShare[]
  readonly modules: readonly string[]
  readonly repoPath: string
  readonly memoryMb: number
  readonly cpus: number
  /** The guest kills the scenario after this long on its own (see init-script.ts). */
  readonly guestTimeoutS: number
}

/** Kernel command line: /init reads `lab.*` from /proc/cmdline (dotted names never reach init's env). */
export function kernelCommandLine(modules: readonly string[], repoPath: string, guestTimeoutS: number): string {
  const bad = modules.find(m => !/^[A-Za-z0-9_-]+$/.test(m))
  if (bad !== undefined) throw new Error(`module name "${bad}" is not a kernel module name ([A-Za-z0-9_-]+)`)
  if (/\s/.test(repoPath)) throw new Error(`repo path "${repoPath}" cannot go on the kernel command line: it has whitespace`)
  if (!Number.isInteger(guestTimeoutS) || guestTimeoutS < 1) throw new Error(`guest timeout ${guestTimeoutS} s is not a positive whole number`)
  const parts = ['console=ttyS0', 'quiet', 'loglevel=3', 'panic=-1', 'rdinit=/init', `lab.repo=${repoPath}`, `lab.timeout=${guestTimeoutS}`]
  if (modules.length > 0) parts.push(`lab.modules=${modules.join(',')}`)
  return parts.join(' ')
}

export function qemuCommand(input: QemuCommandInput): string[] {
  const virtfs = input.shares.flatMap(share => [
    '-virtfs',
    `local,path=${share.hostPath},mount_tag=${share.tag},security_model=none${share.readonly ? ',readonly=on' : ''}`,
  ])
  return [
    'qemu-system-x86_64',
    '-accel', 'tcg,thread=multi',
    '-cpu', 'max',
    '-machine', 'q35',
    '-smp', String(input.cpus),
    '-m', String(input.memoryMb),
    '-nodefaults', '-no-user-config', '-nic', 'none',
    '-display', 'none', '-monitor', 'none', '-serial', 'stdio',
    '-no-reboot',
    '-kernel', input.image.vmlinux,
    '-initrd', input.image.initramfs,
    '-append', kernelCommandLine(input.modules, input.repoPath, input.guestTimeoutS),
    ...virtfs,
  ]
}
