// What goes into the lab VM's initramfs: a static busybox with the applets /init uses, /init itself,
// and the modules needed to reach the 9p shares (everything else is loaded from the shared module tree).
import type { CpioEntry } from './cpio.js'

/** Modules /init insmods before it can mount 9p; Debian's kernel has virtio and 9p as modules. */
export const BOOT_MODULES: readonly string[] = ['virtio_pci', '9pnet_virtio', '9p']

/** Applets /init calls; /sbin/modprobe is also the kernel's usermode helper for request_module(). */
const APPLETS: readonly string[] = [
  'sh', 'cat', 'mkdir', 'ln', 'chmod', 'chroot', 'tr', 'sleep', 'mount', 'insmod', 'modprobe', 'poweroff', 'ip', 'timeout',
]

export interface BootModuleFile {
  /** Path relative to the kernel's module directory, e.g. `kernel/net/9p/9pnet.ko`. */
  readonly path: string
  readonly data: Uint8Array
}

export class NotStaticError extends Error {
  override readonly name = 'NotStaticError'
}

/**
 * True when an x86-64 ELF has no PT_INTERP program header, i.e. needs no dynamic loader — the only kind
 * of binary that can run from an initramfs that holds no libc.
 */
export function isStaticElf(bytes: Uint8Array): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (bytes.length < 64 || view.getUint32(0, false) !== 0x7f454c46 || bytes[4] !== 2) return false
  const phoff = Number(view.getBigUint64(0x20, true))
  const phentsize = view.getUint16(0x36, true)
  const phnum = view.getUint16(0x38, true)
  for (let i = 0; i < phnum; i++) {
    const PT_INTERP = 3
    if (view.getUint32(phoff + i * phentsize, true) === PT_INTERP) return false
  }
  return true
}

export function initramfsEntries(busybox: Uint8Array, init: string, bootModules: readonly BootModuleFile[]): CpioEntry[] {
  if (!isStaticElf(busybox)) {
    throw new NotStaticError('busybox is dynamically linked; the initramfs needs busybox-static (apt-get install busybox-static)')
  }
  const base = (path: string) => path.slice(path.lastIndexOf('/') + 1)
  const dirs = ['bin', 'sbin', 'boot', 'proc', 'sys', 'dev', 'lib', 'lib/modules', 'newroot']
  return [
    ...dirs.map((path): CpioEntry => ({ kind: 'dir', path })),
    { kind: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
    ...APPLETS.map((applet): CpioEntry => ({
      kind: 'symlink',
      path: `${applet === 'modprobe' || applet === 'insmod' || applet === 'poweroff' ? 'sbin' : 'bin'}/${applet}`,
      target: '/bin/busybox',
    })),
    ...bootModules.map((m): CpioEntry => ({ kind: 'file', path: `boot/${base(m.path)}`, data: m.data })),
    { kind: 'file', path: 'boot-modules', data: Buffer.from(bootModules.map(m => base(m.path)).join('\n') + '\n') },
    { kind: 'file', path: 'init', data: Buffer.from(init), mode: 0o755 },
  ]
}
