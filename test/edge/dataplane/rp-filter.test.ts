// Strict reverse-path filtering loosened on our devices only, and only where the kernel's effective value
// (the larger of conf/all and conf/<device>) is strict.
import t from 'tap'
import { effectiveRpFilter, loosenStrictRpFilter, type SysctlFs } from '../../../edge/dataplane/rp-filter.js'

function fakeProc(values: Record<string, string>): { fs: SysctlFs; values: Record<string, string> } {
  const path = (device: string) => `/proc/sys/net/ipv4/conf/${device}/rp_filter`
  const files = new Map(Object.entries(values).map(([device, v]) => [path(device), v]))
  return {
    fs: {
      read: async p => files.get(p),
      write: async (p, v) => {
        if (!files.has(p)) throw new Error(`no such file ${p}`)
        files.set(p, v)
      },
    },
    get values() {
      return Object.fromEntries(Object.keys(values).map(d => [d, files.get(path(d))!]))
    },
  }
}

t.test('the effective mode is the larger of all and the device', async t => {
  const cases: Array<[number, number, number]> = [[0, 0, 0], [1, 0, 1], [0, 1, 1], [1, 2, 2], [2, 1, 2], [2, 0, 2]]
  for (const [all, device, want] of cases) t.equal(effectiveRpFilter(all, device), want, `all ${all}, device ${device}`)
})

t.test('strict devices of ours become loose; loose, off and foreign devices are left alone', async t => {
  const proc = fakeProc({ all: '1', 'wan-bb': '0', 'wan-lte': '1', 'sw-dc1-bb': '2', lan0: '1' })
  const changed = await loosenStrictRpFilter(['wan-bb', 'wan-lte', 'sw-dc1-bb', 'sw-gone', 'wan-bb'], proc.fs)
  t.same(changed, ['wan-bb', 'wan-lte'], 'strict through all=1 or their own 1; a device that does not exist is skipped')
  t.same(proc.values, { all: '1', 'wan-bb': '2', 'wan-lte': '2', 'sw-dc1-bb': '2', lan0: '1' }, "all and the LAN keep the admin's setting")
  t.same(await loosenStrictRpFilter(['wan-bb', 'wan-lte'], proc.fs), [], 'a second pass changes nothing')
})

t.test('with all off, only a device set strict itself is changed', async t => {
  const proc = fakeProc({ all: '0', 'wan-bb': '0', 'wan-lte': '1' })
  t.same(await loosenStrictRpFilter(['wan-bb', 'wan-lte'], proc.fs), ['wan-lte'])
})
