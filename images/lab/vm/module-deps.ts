// Reads a modules.dep (as written by depmod, incl. `busybox depmod -b`) and answers which module files a
// set of modules needs, in load order. The initramfs carries only the modules needed to mount 9p; the
// rest are loaded later from the 9p-shared module tree by modprobe.

export interface ModuleIndex {
  /** Module name (dashes folded to underscores, as the kernel does) → path relative to the version dir. */
  readonly pathByName: ReadonlyMap<string, string>
  /** Path → the paths it depends on, as listed by depmod. */
  readonly depsByPath: ReadonlyMap<string, readonly string[]>
}

export class ModuleNotFoundError extends Error {
  override readonly name = 'ModuleNotFoundError'
  constructor(readonly module: string, readonly kernelVersion: string) {
    super(`module "${module}" is not in modules.dep of kernel ${kernelVersion} (built-in or misspelt?)`)
  }
}

/** `kernel/net/ipv4/ip_gre.ko` → `ip_gre`. */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1)
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replaceAll('-', '_')
}

export function parseModulesDep(text: string): ModuleIndex {
  const pathByName = new Map<string, string>()
  const depsByPath = new Map<string, readonly string[]>()
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    // busybox depmod writes absolute paths below -b; the kernel tree layout starts at "kernel/".
    const relative = (p: string) => p.slice(Math.max(0, p.indexOf('kernel/')))
    const path = relative(line.slice(0, colon).trim())
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean).map(relative)
    pathByName.set(moduleName(path), path)
    depsByPath.set(path, deps)
  }
  return { pathByName, depsByPath }
}

/** Module files to insmod for `modules`, dependencies first, each once. Built-ins must not be asked for. */
export function loadOrder(index: ModuleIndex, modules: readonly string[], kernelVersion: string): string[] {
  const order: string[] = []
  const seen = new Set<string>()
  const visit = (path: string) => {
    if (seen.has(path)) return
    seen.add(path)
    for (const dep of index.depsByPath.get(path) ?? []) visit(dep)
    order.push(path)
  }
  for (const module of modules) {
    const path = index.pathByName.get(module.replaceAll('-', '_'))
    if (path === undefined) throw new ModuleNotFoundError(module, kernelVersion)
    visit(path)
  }
  return order
}

/**
 * modules.alias without the device aliases (patterns with a colon: `pci:v…`, `usb:v…`, `acpi*:…`, `of:…`).
 * Every request_module() the kernel makes — and instantiating one ESP SA makes a dozen, for crypto
 * templates such as "crypto-rfc4106(gcm(aes))-all" that no module provides — runs busybox modprobe,
 * which fnmatch()es the name against every alias line. The lab VM has no hardware to match (its virtio
 * drivers are loaded by /init), so the ~1,200 function aliases (crypto-, nft-, net-pf-, rtnl-link-,
 * xfrm-, fs-…) are all it needs, and the first SA comes up in ~1 s instead of ~4 s under TCG.
 */
export function functionAliases(modulesAlias: string): string {
  return modulesAlias
    .split('\n')
    .filter(line => line !== '' && !(line.split(' ')[1] ?? '').includes(':'))
    .map(line => `${line}\n`)
    .join('')
}
