// The file-system operations the spool needs, as a port, so tests can inject faults and the spool never
// reaches for a global. `nodeSpoolFs` is the real one.
import * as fsp from 'node:fs/promises'

export interface AppendFile {
  append(data: Buffer): Promise<void>
  /** fsync(2): the appended bytes survive a power loss once this resolves. */
  sync(): Promise<void>
  close(): Promise<void>
}

export interface SpoolFs {
  mkdirp(path: string): Promise<void>
  /** File names in a directory (not paths). */
  list(path: string): Promise<string[]>
  readFile(path: string): Promise<Buffer>
  /** Bytes [from, from+length) of a file. */
  readRange(path: string, from: number, length: number): Promise<Buffer>
  openAppend(path: string): Promise<AppendFile>
  truncate(path: string, length: number): Promise<void>
  remove(path: string): Promise<void>
  /** Replaces a small file atomically (write a sibling, rename over): readers see old or new, never half. */
  replaceFile(path: string, data: string): Promise<void>
  /** fsync a directory, so a file created in it survives a power loss. */
  syncDir(path: string): Promise<void>
}

export const nodeSpoolFs: SpoolFs = {
  mkdirp: async path => void (await fsp.mkdir(path, { recursive: true })),
  list: path => fsp.readdir(path),
  readFile: path => fsp.readFile(path),
  async readRange(path, from, length) {
    const handle = await fsp.open(path, 'r')
    try {
      const buffer = Buffer.alloc(length)
      const { bytesRead } = await handle.read(buffer, 0, length, from)
      return buffer.subarray(0, bytesRead)
    } finally {
      await handle.close()
    }
  },
  async openAppend(path) {
    const handle = await fsp.open(path, 'a')
    return {
      append: async data => void (await handle.write(data)),
      sync: () => handle.sync(),
      close: () => handle.close(),
    }
  },
  truncate: (path, length) => fsp.truncate(path, length),
  remove: path => fsp.rm(path, { force: true }),
  async replaceFile(path, data) {
    const temporary = `${path}.tmp`
    await fsp.writeFile(temporary, data)
    await fsp.rename(temporary, path)
  },
  async syncDir(path) {
    const handle = await fsp.open(path, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  },
}
