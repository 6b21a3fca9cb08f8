import t from 'tap'
import { markLayout, markLayoutProblem } from '../../../edge/config/ownership.js'

t.test('the owned mask splits into a class field (low half) and a path field (high half)', async t => {
  t.same(markLayout(0x00ff0000), { mask: 0x00ff0000, classShift: 16, classMask: 0x000f0000, pathShift: 20, pathMask: 0x00f00000 })
  t.same(markLayout(0x0ff00000), { mask: 0x0ff00000, classShift: 20, classMask: 0x00f00000, pathShift: 24, pathMask: 0x0f000000 })
  t.same(markLayout(0xfffe0000), { mask: 0xfffe0000, classShift: 17, classMask: 0x00fe0000, pathShift: 24, pathMask: 0xff000000 }, 'odd widths give the path field the extra bit')
  t.same(markLayout(0x3), { mask: 0x3, classShift: 0, classMask: 0x1, pathShift: 1, pathMask: 0x2 })
  for (const bad of [0, 1, 0x00f0f000, 0x80000001, -1, 0x1_0000_0000, 1.5]) t.equal(markLayout(bad), undefined, `rejects ${bad}`)
})

t.test('classes and paths must fit their fields', async t => {
  t.equal(markLayoutProblem(0x00ff0000, 15, 15), undefined)
  t.match(markLayoutProblem(0x00ff0000, 16, 3), /at most 15 classes/)
  t.match(markLayoutProblem(0x00ff0000, 3, 16), /at most 15 paths/)
  t.match(markLayoutProblem(0x00f0f000, 1, 1), /contiguous/)
})
