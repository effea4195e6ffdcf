'use strict'
// fv.viz: PNG decoding of every colour type and bit depth (files built byte by byte here),
// digits prepared MNIST-style from any picture, resizing, heat-maps, the tile grid and the
// training curves, each decoded back with pngjs and checked for size and content.
const test = require('ava')
const fs = require('fs')
const zlib = require('zlib')
const { PNG } = require('pngjs')
const fv = require('./helpers/fv')

const v = fv.viz

// ---- A PNG writer for the test: any colour type and bit depth pngjs's own writer cannot make.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
function crc32 (buf) {
  let c = 0xffffffff
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 255] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
function chunk (type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(body))
  return Buffer.concat([len, body, crc])
}
/** samples(x, y) → the channel values of a pixel, at `depth` bits; packed MSB-first per row. */
function rawPng (width, height, colorType, depth, samples, extra = []) {
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType]
  const rowBits = width * channels * depth
  const rowBytes = Math.ceil(rowBits / 8)
  const raw = Buffer.alloc(height * (rowBytes + 1))
  for (let y = 0; y < height; y++) {
    let bit = 0
    const row = y * (rowBytes + 1) + 1
    for (let x = 0; x < width; x++) {
      for (const s of samples(x, y)) {
        if (depth === 16) { raw.writeUInt16BE(s, row + bit / 8) } else if (depth === 8) { raw[row + bit / 8] = s } else {
          raw[row + (bit >> 3)] |= s << (8 - depth - (bit & 7))
        }
        bit += depth
      }
    }
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0); ihdr.writeUInt32BE(height, 4)
  ihdr[8] = depth; ihdr[9] = colorType
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    ...extra, chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))])
}

// The picture every encoding below holds: a 12×10 frame, "ink" in a 3-wide bar at x = 4..6.
const W = 12; const H = 10
const inBar = (x) => x >= 4 && x <= 6
const ENCODINGS = [
  ['grey 1-bit', 0, 1, (x) => [inBar(x) ? 1 : 0], [255, 0]],
  ['grey 4-bit', 0, 4, (x) => [inBar(x) ? 15 : 0], [255, 0]],
  ['grey 8-bit', 0, 8, (x) => [inBar(x) ? 255 : 0], [255, 0]],
  ['grey 16-bit', 0, 16, (x) => [inBar(x) ? 65535 : 0], [255, 0]],
  ['grey+alpha 8-bit', 4, 8, (x) => [inBar(x) ? 255 : 0, 255], [255, 0]],
  ['RGB 8-bit', 2, 8, (x) => inBar(x) ? [255, 255, 255] : [0, 0, 0], [255, 0]],
  ['RGB 16-bit', 2, 16, (x) => inBar(x) ? [65535, 65535, 65535] : [0, 0, 0], [255, 0]],
  ['RGBA 8-bit', 6, 8, (x) => inBar(x) ? [255, 255, 255, 255] : [0, 0, 0, 255], [255, 0]],
  ['palette 2-bit', 3, 2, (x) => [inBar(x) ? 1 : 0], [255, 0], [chunk('PLTE', Buffer.from([0, 0, 0, 255, 255, 255]))]]
]

for (const [name, colorType, depth, samples, [ink, paper], extra] of ENCODINGS) {
  test(`decodePng: ${name} → 8-bit RGBA with the same pixels`, (t) => {
    const img = v.decodePng(rawPng(W, H, colorType, depth, samples, extra))
    t.is(img.width, W)
    t.is(img.height, H)
    t.is(img.data.length, W * H * 4)
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const o = (y * W + x) * 4
        const want = inBar(x) ? ink : paper
        if (img.data[o] !== want || img.data[o + 1] !== want || img.data[o + 2] !== want || img.data[o + 3] !== 255) {
          return t.fail(`pixel ${x},${y}: ${[...img.data.subarray(o, o + 4)]}, expected ${want}`)
        }
      }
    }
  })
}

test('encodePng → decodePng round-trips RGBA exactly; a file that is not a PNG gets a clear Error', (t) => {
  const img = v.rgbaImage(5, 3)
  for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 37) % 256
  const png = v.encodePng(img)
  const back = PNG.sync.read(png)
  t.is(back.width, 5)
  t.is(back.height, 3)
  t.deepEqual([...back.data], [...img.data])
  t.deepEqual([...v.decodePng(png).data], [...img.data])

  t.throws(() => v.decodePng(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0, 0]), 'cat.jpg'),
    { message: /^cat\.jpg is not a PNG file \(it does not start with the PNG signature; it looks like a JPEG\)$/ })
  t.throws(() => v.decodePng(Buffer.from('hello, world'), 'notes.txt'), { message: /^notes\.txt is not a PNG file/ })
  t.throws(() => v.decodePng(png.subarray(0, 40), 'cut.png'), { message: /^cut\.png is a broken PNG file: / })
  t.throws(() => v.encodePng({ width: 2, height: 2, data: new Uint8Array(3) }), { instanceOf: RangeError })
})

// ---- Digits prepared for an MNIST model ------------------------------------------------

/** An RGBA picture w×h: ink(x, y) ∈ [0,1] drawn as `inkColor` over `paper` (RGBA each). */
function drawing (w, h, ink, inkColor, paper) {
  const img = v.rgbaImage(w, h)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const a = ink(x, y)
      for (let c = 0; c < 4; c++) img.data[(y * w + x) * 4 + c] = Math.round(paper[c] * (1 - a) + inkColor[c] * a)
    }
  }
  return img
}
// A "1" off to the left of a wide page: a bar 6 wide and 50 tall at x = 20..25, y = 10..59.
const stroke = (x, y) => (x >= 20 && x < 26 && y >= 10 && y < 60) ? 1 : 0

function centreOfMass (d, size = 28) {
  let m = 0; let mx = 0; let my = 0
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) { const a = d[y * size + x]; m += a; mx += a * (x + 0.5); my += a * (y + 0.5) }
  return [mx / m, my / m, m]
}
function inkBox (d, size = 28) {
  let x0 = size; let x1 = -1; let y0 = size; let y1 = -1
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (d[y * size + x] > 0.05) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y) }
  return [x0, y0, x1, y1]
}

test('toDigit: dark ink on white paper becomes white on black, fitted to 20 px and centred by mass', (t) => {
  const img = drawing(100, 70, stroke, [0, 0, 0, 255], [255, 255, 255, 255])
  const d = v.toDigit(img)
  t.is(d.length, 784)
  t.is(d[0], 0)                      // background: black
  t.is(d[783], 0)
  const [cx, cy] = centreOfMass(d)
  t.true(Math.abs(cx - 14) <= 0.75 && Math.abs(cy - 14) <= 0.75, `centre ${cx},${cy}`)
  const [x0, y0, x1, y1] = inkBox(d)
  t.is(y1 - y0 + 1, 20)              // the long side fills MNIST's 20-pixel box
  t.is(x1 - x0 + 1, 2)               // aspect kept: 6/50 of 20 is 2.4 → 2 columns
  t.true(d[14 * 28 + 14] > 0.9)
})

test('toDigit: the same digit as white-on-black, on a transparent canvas in any colour, and as a photo', (t) => {
  const ref = v.toDigit(drawing(100, 70, stroke, [0, 0, 0, 255], [255, 255, 255, 255]))
  const variants = {
    'white on black': drawing(100, 70, stroke, [255, 255, 255, 255], [0, 0, 0, 255]),
    'red on transparent': drawing(100, 70, stroke, [200, 0, 0, 255], [0, 0, 0, 0]),
    'black on transparent': drawing(100, 70, stroke, [0, 0, 0, 255], [255, 255, 255, 0]),
    // Paper that is not white or black (read as faint ink everywhere by an MNIST model) becomes 0, the ink 1.
    'blue ink on cream paper': drawing(100, 70, stroke, [20, 30, 120, 255], [250, 240, 210, 255]),
    'green chalk on a blue board': drawing(100, 70, stroke, [120, 230, 120, 255], [10, 20, 70, 255]),
    'grey pencil on grey paper': drawing(100, 70, stroke, [90, 90, 90, 255], [170, 170, 170, 255])
  }
  for (const [name, img] of Object.entries(variants)) {
    const d = v.toDigit(img)
    let diff = 0
    for (let i = 0; i < 784; i++) diff = Math.max(diff, Math.abs(d[i] - ref[i]))
    t.true(diff < 0.02, `${name}: max difference ${diff}`)
    t.is(d[0], 0, name)
  }
  // A faint smudge on grey paper is no digit.
  t.true(v.toDigit(drawing(100, 70, stroke, [120, 120, 120, 255], [128, 128, 128, 255])).every((x) => x === 0))
})

test('toDigit: fit stretch / pad, polarity overrides, a blank picture stays blank', (t) => {
  // A 56×56 checkerboard of 2×2 blocks: stretching to 28×28 averages each block exactly.
  const board = drawing(56, 56, (x, y) => ((x >> 1) + (y >> 1)) % 2 ? 1 : 0.5, [255, 255, 255, 255], [0, 0, 0, 255])
  const s = v.toDigit(board, { fit: 'stretch', polarity: 'light-on-dark' })
  const lum = (a) => Math.round(255 * a) / 255
  t.true(Math.abs(s[0] - lum(0.5)) < 1e-6, String(s[0]))
  t.true(Math.abs(s[1] - 1) < 1e-6, String(s[1]))
  const inverted = v.toDigit(board, { fit: 'stretch', polarity: 'dark-on-light' })
  t.true(Math.abs(inverted[1]) < 1e-6)
  // pad: a 40×20 white bar on black fills the width, centred vertically with black above and below.
  const bar = drawing(40, 20, () => 1, [255, 255, 255, 255], [0, 0, 0, 255])
  const p = v.toDigit(bar, { fit: 'pad', polarity: 'light-on-dark' })
  t.is(p[0], 0)                        // top rows: padding
  t.true(p[14 * 28] > 0.99)            // middle row, left edge: the bar
  t.deepEqual(inkBox(p), [0, 7, 27, 20])
  t.true(v.toDigit(v.rgbaImage(30, 30, [255, 255, 255, 255])).every((x) => x === 0))
})

test('resizeArea keeps the mass at fractional scales; resizeBilinear matches PyTorch align_corners=false', (t) => {
  const src = Float32Array.from({ length: 7 * 5 }, (_, i) => (i * 13) % 7)
  const out = v.resizeArea(src, 7, 5, 3, 2)
  const sum = (a) => a.reduce((s, x) => s + x, 0)
  t.true(Math.abs(sum(out) * (7 / 3) * (5 / 2) - sum(src)) < 1e-3, `${sum(out) * (35 / 6)} vs ${sum(src)}`)
  const up = v.resizeBilinear([0, 1, 2, 3], 2, 2, 4, 4)
  t.deepEqual([...up], [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3])
})

// ---- Heat-maps -------------------------------------------------------------------------

const luminance = (d, o) => 0.2126 * d[o] + 0.7152 * d[o + 1] + 0.0722 * d[o + 2]

test('heatmap: [7,7] map over a 28×28 digit at scale 3 → 84×84 RGBA, brighter where the map is larger', (t) => {
  const grey = { width: 28, height: 28, data: new Float32Array(784).fill(0.4) }
  const map = Float32Array.from({ length: 49 }, (_, i) => i % 7)  // grows left to right
  const img = v.heatmap(grey, map, [7, 7], { scale: 3 })
  t.is(img.width, 84)
  t.is(img.height, 84)
  const png = PNG.sync.read(v.encodePng(img))
  t.is(png.width, 84)
  const column = (x) => { let s = 0; for (let y = 0; y < 84; y++) s += luminance(png.data, (y * 84 + x) * 4); return s / 84 }
  let prev = -1
  for (let x = 0; x < 84; x += 6) { const c = column(x); t.true(c >= prev, `column ${x}: ${c} < ${prev}`); prev = c }
  t.true(column(83) - column(0) > 80, `${column(0)} → ${column(83)}`)
  // A single hot cell: the brightest pixel lies inside its 12×12 patch (cell (2,5) → x 60..71, y 24..35).
  const spot = new Float32Array(49); spot[2 * 7 + 5] = 1
  const hot = v.heatmap(grey, spot, [7, 7], { scale: 3 })
  let best = -1; let at = 0
  for (let i = 0; i < 84 * 84; i++) { const l = luminance(hot.data, i * 4); if (l > best) { best = l; at = i } }
  const [bx, by] = [at % 84, Math.floor(at / 84)]
  t.true(bx >= 60 && bx < 72 && by >= 24 && by < 36, `brightest at ${bx},${by}`)
})

test('heatmap: a constant map colours evenly; the picture shows through; bad options are RangeErrors', (t) => {
  const digit = fv.data.loadMnist('test', { limit: 1 })
  const grey = { width: 28, height: 28, data: digit.images }
  const flat = v.heatmap(grey, new Float32Array(16).fill(0.3), [4, 4])
  const pure = v.heatmap(grey, new Float32Array(16).fill(0.3), [4, 4], { alpha: 1 })
  t.true(pure.data.every((b, i) => b === pure.data[i % 4]), 'alpha 1 and a constant map: one colour')
  t.deepEqual([...pure.data.subarray(0, 4)], [0x44, 0x01, 0x54, 255])  // minmax of a constant map: the colour of 0
  const raw = v.heatmap(grey, new Float32Array(16).fill(0.75), [4, 4], { alpha: 1, normalize: 'none', colormap: 'jet' })
  t.deepEqual([...raw.data.subarray(0, 4)], [...v.colormap('jet', 0.75), 255])
  // alpha 0.5: the digit's strokes are brighter than its background.
  const bright = []; const dark = []
  for (let i = 0; i < 784; i++) (digit.images[i] > 0.9 ? bright : digit.images[i] === 0 ? dark : []).push(luminance(flat.data, i * 4))
  const mean = (a) => a.reduce((s, x) => s + x, 0) / a.length
  t.true(mean(bright) - mean(dark) > 100, `${mean(bright)} vs ${mean(dark)}`)
  t.deepEqual(v.colormap('viridis', 0), [0x44, 0x01, 0x54])
  t.deepEqual(v.colormap('viridis', 1), [0xfd, 0xe7, 0x25])
  t.deepEqual(v.colormap('jet', 0), [0, 0, 128])
  t.deepEqual(v.colormap('jet', 0.5), [128, 255, 128])
  t.deepEqual(v.colormap('jet', 1), [128, 0, 0])
  t.throws(() => v.heatmap(grey, new Float32Array(15), [4, 4]), { instanceOf: RangeError, message: /map must hold 4·4 = 16 values/ })
  t.throws(() => v.heatmap(grey, new Float32Array(16), [4, 4], { alpha: 2 }), { instanceOf: RangeError, message: /alpha must be in \[0, 1\], got 2/ })
  t.throws(() => v.heatmap(grey, new Float32Array(16), [4, 4], { scale: 0 }), { instanceOf: RangeError })
})

// ---- Grid ------------------------------------------------------------------------------

test('grid: tiles framed green / red / grey as marked, with labels, laid out by columns', (t) => {
  const marks = [true, false, null, true, false, true]
  const tiles = marks.map((correct, i) => ({ image: v.greyToRgba(new Float32Array(100).fill(i / 6), 10, 10), correct, label: `${i}` }))
  const img = PNG.sync.read(v.encodePng(v.grid(tiles, { columns: 3 })))
  // cell: 10 + 2·2 border = 14 wide; 14 + label strip (5·2 + 4) = 28 high; gap 4.
  t.is(img.width, 4 + 3 * (14 + 4))
  t.is(img.height, 4 + 2 * (28 + 4))
  const px = (x, y) => [...img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 3)]
  marks.forEach((correct, i) => {
    const x = 4 + (i % 3) * 18; const y = 4 + Math.floor(i / 3) * 32
    const want = correct === true ? [...v.CORRECT_COLOR] : correct === false ? [...v.WRONG_COLOR] : [...v.UNMARKED_COLOR]
    for (const [dx, dy] of [[0, 0], [13, 0], [0, 13], [13, 13], [1, 7], [12, 7]]) t.deepEqual(px(x + dx, y + dy), want, `tile ${i} at +${dx},+${dy}`)
    const inside = Math.round(Math.fround(i / 6) * 255)
    t.deepEqual(px(x + 2 + 5, y + 2 + 5), [inside, inside, inside], `tile ${i} picture`)
    // The label strip below the frame has lit pixels (the digit), in red for a wrong one.
    let lit = 0
    for (let yy = y + 16; yy < y + 28; yy++) for (let xx = x; xx < x + 14; xx++) { const p = px(xx, yy); if (p[0] > 200) lit++ }
    t.true(lit >= 8, `tile ${i} label: ${lit} lit pixels`)
  })
  t.throws(() => v.grid([]), { instanceOf: RangeError })
})

// ---- Curves ----------------------------------------------------------------------------

const EPOCHS = [
  { epoch: 1, trainLoss: 0.52, testLoss: 0.21, trainAccuracy: 0.84, testAccuracy: 0.94 },
  { epoch: 2, trainLoss: 0.16, testLoss: 0.09, trainAccuracy: 0.95, testAccuracy: 0.972 },
  { epoch: 3, trainLoss: 0.09, testLoss: 0.06, trainAccuracy: 0.973, testAccuracy: 0.983 }
]

function colourCount (png, rgb) {
  let n = 0
  for (let i = 0; i < png.data.length; i += 4) {
    if (Math.abs(png.data[i] - rgb[0]) < 8 && Math.abs(png.data[i + 1] - rgb[1]) < 8 && Math.abs(png.data[i + 2] - rgb[2]) < 8) n++
  }
  return n
}

test('curvesSvg: two panels with axes, ticks, a legend and a line per series; text escaped', (t) => {
  const svg = v.curvesSvg(EPOCHS, { title: 'gate <MNIST> & co' })
  t.is((svg.match(/<polyline /g) || []).length, 4)
  t.is((svg.match(/<circle /g) || []).length, 12)
  t.regex(svg, />gate &lt;MNIST&gt; &amp; co</)
  t.regex(svg, />accuracy \(%\)</)
  t.regex(svg, />epoch</)
  t.regex(svg, />train</)
  t.regex(svg, />test</)
  t.regex(svg, />0\.5</)      // a loss tick
  t.regex(svg, />95</)        // an accuracy tick
  const bare = v.curvesSvg(EPOCHS, { text: false, title: 'x' })
  t.notRegex(bare, /<text/)
  t.is((bare.match(/<polyline /g) || []).length, 4)
  t.deepEqual(v.niceTicks(0.0312, 0.52, 5), [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
})

test('curvesPng: an 800×340 PNG with both series drawn (and text where a font exists), also for one epoch', (t) => {
  const png = PNG.sync.read(v.curvesPng(EPOCHS, { title: 'gate on MNIST' }))
  t.is(png.width, 800)
  t.is(png.height, 340)
  t.true(colourCount(png, [0x1f, 0x77, 0xb4]) > 300, 'train series (blue)')
  t.true(colourCount(png, [0xff, 0x7f, 0x0e]) > 200, 'test series (orange)')
  t.true(colourCount(png, [255, 255, 255]) > 10000, 'white background')
  const one = PNG.sync.read(v.curvesPng(EPOCHS.slice(0, 1), { width: 400, height: 200 }))
  t.is(one.width, 400)
  t.true(colourCount(one, [0x1f, 0x77, 0xb4]) > 20, 'a single epoch is a visible dot')
  const noText = PNG.sync.read(v.curvesPng(EPOCHS, { title: 'gate on MNIST', text: false }))
  // The title is drawn only with text on, and only where resvg finds a font: dark pixels
  // across the top strip exactly when the host has one of the fonts curves.ts asks for.
  const hasFont = ['/usr/share/fonts/truetype/dejavu', '/usr/share/fonts/dejavu', '/usr/share/fonts/TTF'].some((d) => fs.existsSync(d))
  const darkInTitle = (img) => {
    let n = 0
    for (let y = 5; y < 35; y++) for (let x = 300; x < 500; x++) if (img.data[(y * 800 + x) * 4] < 100) n++
    return n
  }
  t.is(darkInTitle(png) > 100, hasFont, `title pixels: ${darkInTitle(png)}, font found: ${hasFont}`)
  t.is(darkInTitle(noText), 0)
})
