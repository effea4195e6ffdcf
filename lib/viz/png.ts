// PNG in and out (pngjs), and a photo or drawing of a digit turned into what an MNIST model
// was trained on: 28×28 grey, white ink on black, the digit fitted and centred as MNIST's were.
import * as fs from 'fs'
import { type RgbaImage, resizeArea } from './image'

// pngjs ships no type declarations: the part used here.
interface PngJs {
  PNG: {
    sync: {
      read(buffer: Buffer): { width: number, height: number, data: Buffer }
      write(png: { width: number, height: number, data: Buffer }, opts?: { colorType?: number }): Buffer
    }
  }
}
// Loaded on first use: require('foveal') should not pay for it.
let pngjs: PngJs['PNG'] | null = null
function pngModule (): PngJs['PNG'] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use
  pngjs ??= (require('pngjs') as PngJs).PNG
  return pngjs
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** Encodes an RGBA picture as a PNG (colour type 6, 8 bits). */
export function encodePng (img: RgbaImage): Buffer {
  if (img.data.length !== img.width * img.height * 4) {
    throw new RangeError(`encodePng: data must hold width·height·4 = ${img.width * img.height * 4} bytes, got ${img.data.length}`)
  }
  const data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength)
  return pngModule().sync.write({ width: img.width, height: img.height, data }, { colorType: 6 })
}

/**
 * Decodes a PNG of any colour type (grey, grey+alpha, RGB, RGBA, palette), bit depth (1 to
 * 16: 16-bit samples are scaled to 8) and interlacing into 8-bit RGBA. `name` (a file name)
 * goes into the message of the Error a file that is not a PNG, or a broken one, gets.
 */
export function decodePng (bytes: Uint8Array, name = 'the input'): RgbaImage {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIGNATURE)) {
    throw new Error(`${name} is not a PNG file (it does not start with the PNG signature${sniff(buf)})`)
  }
  let png
  try {
    png = pngModule().sync.read(buf)
  } catch (err) {
    throw new Error(`${name} is a broken PNG file: ${(err as Error).message}`)
  }
  return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) }
}

function sniff (buf: Buffer): string {
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return '; it looks like a JPEG'
  if (buf.length >= 4 && buf.subarray(0, 4).toString('latin1') === 'GIF8') return '; it looks like a GIF'
  if (buf.length === 0) return '; it is empty'
  return ''
}

export function readPng (file: string): RgbaImage {
  return decodePng(fs.readFileSync(file), file)
}

export function writePng (file: string, img: RgbaImage): void {
  fs.writeFileSync(file, encodePng(img))
}

export interface DigitOptions {
  /** Side of the square output (default 28). */
  size?: number
  /**
   * How the picture is placed (default 'mnist'):
   * - 'mnist': as MNIST was made: the ink's bounding box scaled (aspect kept) to fit a box of
   *   20/28 of the side, placed so the ink's centre of mass is at the centre;
   * - 'pad': the whole picture padded to a square with background, then resized;
   * - 'stretch': the whole picture resized to the square, aspect not kept.
   */
  fit?: 'mnist' | 'pad' | 'stretch'
  /**
   * Which way round the ink is (default 'auto'): 'dark-on-light' inverts, 'light-on-dark'
   * keeps the brightness as ink. See toDigit for what 'auto' decides.
   */
  polarity?: 'auto' | 'dark-on-light' | 'light-on-dark'
}

/**
 * A picture of a digit as an MNIST model sees it: size×size floats in [0, 1], ink = 1 on a
 * background of 0 (MNIST's white digit on black).
 *
 * Ink, first at full resolution:
 * - a picture whose border is mostly transparent (a drawing on a transparent canvas, in any
 *   colour) takes its ink from the alpha channel;
 * - otherwise it is laid over white and its luminance (Rec. 709 weights) read; with
 *   polarity 'auto' the border decides the background: a border brighter than mid-grey
 *   means dark ink on light paper (a scan, a drawing in an editor), so the luminance is
 *   inverted; a dark border means the picture already is MNIST-style. With polarity
 *   'auto' the paper (the border's median) then becomes 0 and the strongest ink 1, as in
 *   MNIST; an explicit polarity takes the luminance as it is.
 * Then the resize is area-averaging (see resizeArea), so a large photo's thin strokes
 * become grey, as MNIST's anti-aliased digits are, instead of vanishing.
 */
export function toDigit (img: RgbaImage, opts: DigitOptions = {}): Float32Array {
  const size = opts.size ?? 28
  const fit = opts.fit ?? 'mnist'
  const { width: w, height: h, data } = img
  const ink = new Float32Array(w * h)
  let borderAlpha = 0
  let borderLum = 0
  let borderCount = 0
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (y !== 0 && y !== h - 1 && x !== 0 && x !== w - 1) continue
      const o = (y * w + x) * 4
      const a = data[o + 3] / 255
      borderAlpha += a
      borderLum += lumOverWhite(data, o)
      borderCount++
    }
  }
  const fromAlpha = borderAlpha / borderCount < 0.5 && (opts.polarity ?? 'auto') === 'auto'
  const invert = opts.polarity === 'dark-on-light' || (opts.polarity !== 'light-on-dark' && borderLum / borderCount > 0.5)
  for (let i = 0, o = 0; i < w * h; i++, o += 4) {
    if (fromAlpha) ink[i] = data[o + 3] / 255
    else ink[i] = invert ? 1 - lumOverWhite(data, o) : lumOverWhite(data, o)
  }
  if (!fromAlpha && (opts.polarity ?? 'auto') === 'auto') stretchInk(ink, w, h)
  if (fit === 'stretch') return clamp01(resizeArea(ink, w, h, size, size))
  if (fit === 'pad') return clamp01(placeCentred(ink, w, h, 0, 0, w, h, size, size))
  return fitMnist(ink, w, h, size)
}

/**
 * Paper to 0 and the strongest ink to 1, in place: MNIST's digits are ink up to 1 on a
 * background of exactly 0, and a model trained on them reads grey paper (a photo of a
 * blackboard, cream paper) as faint ink everywhere. The paper is the median of the border.
 * Ink that stands out from the paper by less than 0.05 is no ink: the picture goes blank.
 */
function stretchInk (ink: Float32Array, w: number, h: number): void {
  const border: number[] = []
  for (let x = 0; x < w; x++) border.push(ink[x], ink[(h - 1) * w + x])
  for (let y = 1; y < h - 1; y++) border.push(ink[y * w], ink[y * w + w - 1])
  border.sort((a, b) => a - b)
  const paper = border[Math.floor(border.length / 2)]
  let peak = 0
  for (let i = 0; i < ink.length; i++) if (ink[i] > peak) peak = ink[i]
  const span = peak - paper
  for (let i = 0; i < ink.length; i++) ink[i] = span < 0.05 ? 0 : Math.min(1, Math.max(0, (ink[i] - paper) / span))
}

/** Luminance in [0, 1] of pixel o laid over white. */
function lumOverWhite (d: Uint8Array, o: number): number {
  const a = d[o + 3] / 255
  const l = (0.2126 * d[o] + 0.7152 * d[o + 1] + 0.0722 * d[o + 2]) / 255
  return l * a + (1 - a)
}

function clamp01 (a: Float32Array): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = Math.min(1, Math.max(0, a[i]))
  return a
}

/** The crop [x0, x0+cw) × [y0, y0+ch) of ink scaled (aspect kept) to fit box×box, centred in a size×size square. */
function placeCentred (ink: Float32Array, w: number, _h: number, x0: number, y0: number, cw: number, ch: number,
  box: number, size: number): Float32Array {
  const crop = new Float32Array(cw * ch)
  for (let y = 0; y < ch; y++) crop.set(ink.subarray((y0 + y) * w + x0, (y0 + y) * w + x0 + cw), y * cw)
  const s = box / Math.max(cw, ch)
  const tw = Math.max(1, Math.round(cw * s))
  const th = Math.max(1, Math.round(ch * s))
  const small = resizeArea(crop, cw, ch, tw, th)
  const out = new Float32Array(size * size)
  paste(small, tw, th, out, size, Math.floor((size - tw) / 2), Math.floor((size - th) / 2))
  return out
}

function paste (src: Float32Array, tw: number, th: number, dst: Float32Array, size: number, ox: number, oy: number): void {
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const dx = x + ox
      const dy = y + oy
      if (dx >= 0 && dx < size && dy >= 0 && dy < size) dst[dy * size + dx] = src[y * tw + x]
    }
  }
}

/** MNIST's own preparation: bounding box → 20×20 (of 28) keeping aspect → centre of mass at the centre. */
function fitMnist (ink: Float32Array, w: number, h: number, size: number): Float32Array {
  let peak = 0
  for (let i = 0; i < ink.length; i++) if (ink[i] > peak) peak = ink[i]
  const out = new Float32Array(size * size)
  if (peak <= 0.05) return out  // no ink: a blank picture stays blank
  const threshold = peak * 0.1
  let x0 = w; let y0 = h; let x1 = -1; let y1 = -1
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (ink[y * w + x] > threshold) {
        if (x < x0) x0 = x
        if (x > x1) x1 = x
        if (y < y0) y0 = y
        if (y > y1) y1 = y
      }
    }
  }
  const cw = x1 - x0 + 1
  const ch = y1 - y0 + 1
  const box = Math.round(size * 20 / 28)
  const crop = new Float32Array(cw * ch)
  for (let y = 0; y < ch; y++) crop.set(ink.subarray((y0 + y) * w + x0, (y0 + y) * w + x0 + cw), y * cw)
  const s = box / Math.max(cw, ch)
  const tw = Math.max(1, Math.round(cw * s))
  const th = Math.max(1, Math.round(ch * s))
  const small = clamp01(resizeArea(crop, cw, ch, tw, th))
  let m = 0; let mx = 0; let my = 0
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = small[y * tw + x]
      m += v; mx += v * (x + 0.5); my += v * (y + 0.5)
    }
  }
  const ox = m > 0 ? Math.round(size / 2 - mx / m) : Math.floor((size - tw) / 2)
  const oy = m > 0 ? Math.round(size / 2 - my / m) : Math.floor((size - th) / 2)
  // Keep the whole digit inside: MNIST's centring never cut a digit off.
  paste(small, tw, th, out, size, Math.min(Math.max(0, ox), size - tw), Math.min(Math.max(0, oy), size - th))
  return out
}
