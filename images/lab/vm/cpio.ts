// Writes a cpio archive in the "newc" format the kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst): a 110-byte ASCII header of 13 8-digit
// hex fields, the NUL-terminated name, padding to 4 bytes, the data, padding to 4 bytes; ends with an
// entry named "TRAILER!!!". Written here instead of calling cpio(1) so the archive is byte-for-byte
// reproducible from its inputs (no mtimes, no inode numbers from the host).

export type CpioEntry =
  | { readonly kind: 'dir'; readonly path: string; readonly mode?: number }
  | { readonly kind: 'file'; readonly path: string; readonly data: Uint8Array; readonly mode?: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string }

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0')
}

function pad4(length: number): Uint8Array {
  return new Uint8Array((4 - (length % 4)) % 4)
}

function header(ino: number, mode: number, nlink: number, size: number, name: string): Uint8Array {
  const nameSize = Buffer.byteLength(name) + 1
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  const fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, nameSize, 0]
  const text = '070701' + fields.map(hex8).join('') + name + '\0'
  const bytes = Buffer.from(text, 'utf8')
  return Buffer.concat([bytes, pad4(bytes.length)])
}

/** The archive for `entries`, in the given order (parents must come before their children). */
export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Uint8Array[] = []
  entries.forEach((entry, i) => {
    const ino = i + 1
    const path = entry.path.replace(/^\/+/, '')
    if (path === '') throw new Error(`cpioNewc: entry ${i} has an empty path`)
    switch (entry.kind) {
      case 'dir':
        parts.push(header(ino, S_IFDIR | (entry.mode ?? 0o755), 2, 0, path))
        break
      case 'file':
        parts.push(header(ino, S_IFREG | (entry.mode ?? 0o644), 1, entry.data.length, path))
        parts.push(entry.data, pad4(entry.data.length))
        break
      case 'symlink': {
        const target = Buffer.from(entry.target, 'utf8')
        parts.push(header(ino, S_IFLNK | 0o777, 1, target.length, path), target, pad4(target.length))
        break
      }
    }
  })
  parts.push(header(0, 0, 1, 0, 'TRAILER!!!'))
  return Buffer.concat(parts)
}
