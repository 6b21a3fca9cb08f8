// Locates the compressed kernel inside an x86 bzImage so it can be unpacked to an ELF vmlinux.
// QEMU boots an ELF vmlinux through its PVH note (Debian builds CONFIG_PVH=y); skipping the in-guest
// decompressor saves about two seconds per boot under TCG.
//
// Layout (Documentation/x86/boot.rst, "The real-mode kernel header"): byte 0x1f1 holds setup_sects
// (0 means 4); the protected-mode kernel starts at (setup_sects + 1) * 512. Boot protocol >= 2.08 adds
// payload_offset (u32 at 0x248, relative to the protected-mode start) and payload_length (u32 at 0x24c).
// The kernel build appends the uncompressed size as a little-endian u32 to every payload
// (scripts/Makefile.lib, size_append), which we use to check the result.

export type PayloadFormat = 'gzip' | 'xz' | 'zstd' | 'lzma' | 'lz4' | 'lzo' | 'bzip2'

export interface BzImagePayload {
  readonly format: PayloadFormat
  /** Byte range of the compressed stream inside the bzImage, without the appended size. */
  readonly start: number
  readonly end: number
  /** Size of the decompressed vmlinux, from the appended u32. */
  readonly uncompressedSize: number
}

const MAGICS: ReadonlyArray<readonly [PayloadFormat, readonly number[]]> = [
  ['gzip', [0x1f, 0x8b]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['lzma', [0x5d, 0x00, 0x00]],
  ['lz4', [0x02, 0x21, 0x4c, 0x18]],
  ['lzo', [0x89, 0x4c, 0x5a, 0x4f]],
  ['bzip2', [0x42, 0x5a, 0x68]],
]

export class BzImageError extends Error {
  override readonly name = 'BzImageError'
}

function formatAt(image: Uint8Array, offset: number): PayloadFormat | undefined {
  for (const [format, magic] of MAGICS) {
    if (magic.every((byte, i) => image[offset + i] === byte)) return format
  }
  return undefined
}

/** Reads the boot header and returns where the compressed kernel is; throws BzImageError if it is not a bzImage. */
export function locatePayload(image: Uint8Array, source = 'bzImage'): BzImagePayload {
  if (image.length < 0x250) throw new BzImageError(`${source}: ${image.length} bytes is too short for a boot header`)
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength)
  const signature = view.getUint32(0x202, true)
  if (signature !== 0x53726448) throw new BzImageError(`${source}: no "HdrS" boot signature at 0x202`)
  const version = view.getUint16(0x206, true)
  if (version < 0x0208) {
    throw new BzImageError(`${source}: boot protocol ${version.toString(16)} predates payload_offset (needs >= 2.08)`)
  }
  const setupSects = view.getUint8(0x1f1) || 4
  const protectedStart = (setupSects + 1) * 512
  const start = protectedStart + view.getUint32(0x248, true)
  const length = view.getUint32(0x24c, true)
  const end = start + length - 4
  if (length < 8 || start + length > image.length) {
    throw new BzImageError(`${source}: payload ${start}+${length} lies outside the ${image.length}-byte image`)
  }
  const format = formatAt(image, start)
  if (format === undefined) {
    const seen = Array.from(image.subarray(start, start + 6), b => b.toString(16).padStart(2, '0')).join(' ')
    throw new BzImageError(`${source}: unknown compression magic ${seen} at payload offset ${start}`)
  }
  return { format, start, end, uncompressedSize: view.getUint32(end, true) }
}

/** True when the bytes look like the x86-64 ELF vmlinux the payload should decompress to. */
export function isElf64(bytes: Uint8Array): boolean {
  return bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46 && bytes[4] === 2
}
