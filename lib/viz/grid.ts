// A grid of pictures, each framed in a colour that says whether the model got it right,
// with a small label under it drawn in a built-in 3×5 pixel font (no font files needed).
import { type RgbaImage, rgbaImage } from './image'

export interface GridTile {
  image: RgbaImage
  /** true: green frame; false: red frame; undefined/null: grey frame. */
  correct?: boolean | null
  /** Text under the tile: digits, A–Z (lower case drawn as upper case), space and - : . / > = % ?. */
  label?: string
}

export interface GridOptions {
  /** Tiles per row (default: ⌈√n⌉). */
  columns?: number
  /** Frame thickness in pixels (default 2). */
  border?: number
  /** Space between framed tiles and around the grid (default 4). */
  gap?: number
  /** Pixel size of the label font (default 2: 6×10 pixels per character). */
  fontScale?: number
  /** Background colour [r, g, b] (default dark grey). */
  background?: readonly number[]
}

export const CORRECT_COLOR = [40, 190, 70] as const
export const WRONG_COLOR = [230, 40, 40] as const
export const UNMARKED_COLOR = [128, 128, 128] as const
const TEXT_COLOR = [235, 235, 235] as const

// 3×5 glyphs, one row per 3-bit number, top row first (bit 2 = left column).
const FONT: Record<string, readonly number[]> = {
  0: [7, 5, 5, 5, 7], 1: [2, 6, 2, 2, 7], 2: [7, 1, 7, 4, 7], 3: [7, 1, 7, 1, 7], 4: [5, 5, 7, 1, 1],
  5: [7, 4, 7, 1, 7], 6: [7, 4, 7, 5, 7], 7: [7, 1, 1, 2, 2], 8: [7, 5, 7, 5, 7], 9: [7, 5, 7, 1, 7],
  A: [2, 5, 7, 5, 5], B: [6, 5, 6, 5, 6], C: [3, 4, 4, 4, 3], D: [6, 5, 5, 5, 6], E: [7, 4, 6, 4, 7],
  F: [7, 4, 6, 4, 4], G: [3, 4, 5, 5, 3], H: [5, 5, 7, 5, 5], I: [7, 2, 2, 2, 7], J: [1, 1, 1, 5, 2],
  K: [5, 5, 6, 5, 5], L: [4, 4, 4, 4, 7], M: [5, 7, 7, 5, 5], N: [6, 5, 5, 5, 5], O: [2, 5, 5, 5, 2],
  P: [6, 5, 6, 4, 4], Q: [2, 5, 5, 7, 3], R: [6, 5, 6, 5, 5], S: [3, 4, 2, 1, 6], T: [7, 2, 2, 2, 2],
  U: [5, 5, 5, 5, 7], V: [5, 5, 5, 5, 2], W: [5, 5, 7, 7, 5], X: [5, 5, 2, 5, 5], Y: [5, 5, 2, 2, 2],
  Z: [7, 1, 2, 4, 7], ' ': [0, 0, 0, 0, 0], '-': [0, 0, 7, 0, 0], ':': [0, 2, 0, 2, 0], '.': [0, 0, 0, 0, 2],
  '/': [1, 1, 2, 4, 4], '>': [4, 2, 1, 2, 4], '=': [0, 7, 0, 7, 0], '%': [5, 1, 2, 4, 5], '?': [6, 1, 2, 0, 2]
}

/** Draws `text` with its top-left corner at (x, y), clipped to the picture. */
export function drawText (img: RgbaImage, text: string, x: number, y: number, color: readonly number[] = TEXT_COLOR, scale = 1): void {
  let cx = x
  for (const ch of text.toUpperCase()) {
    const glyph = FONT[ch] ?? FONT['?']
    for (let row = 0; row < 5; row++) {
      for (let col = 0; col < 3; col++) {
        if ((glyph[row] >> (2 - col)) & 1) fillRect(img, cx + col * scale, y + row * scale, scale, scale, color)
      }
    }
    cx += 4 * scale
  }
}

/** Width in pixels of `text` in the built-in font. */
export function textWidth (text: string, scale = 1): number {
  return text.length === 0 ? 0 : (text.length * 4 - 1) * scale
}

export function fillRect (img: RgbaImage, x: number, y: number, w: number, h: number, color: readonly number[]): void {
  for (let yy = Math.max(0, y); yy < Math.min(img.height, y + h); yy++) {
    for (let xx = Math.max(0, x); xx < Math.min(img.width, x + w); xx++) {
      const o = (yy * img.width + xx) * 4
      img.data[o] = color[0]; img.data[o + 1] = color[1]; img.data[o + 2] = color[2]; img.data[o + 3] = 255
    }
  }
}

/** The tiles laid out row by row; every cell is as large as the largest tile. */
export function grid (tiles: readonly GridTile[], opts: GridOptions = {}): RgbaImage {
  if (tiles.length === 0) throw new RangeError('grid: tiles must not be empty')
  const columns = opts.columns ?? Math.ceil(Math.sqrt(tiles.length))
  if (!Number.isInteger(columns) || columns < 1) throw new RangeError(`grid: columns must be a positive integer, got ${columns}`)
  const border = opts.border ?? 2
  const gap = opts.gap ?? 4
  const fs = opts.fontScale ?? 2
  const tw = Math.max(...tiles.map((t) => t.image.width))
  const th = Math.max(...tiles.map((t) => t.image.height))
  const labelH = tiles.some((t) => t.label) ? 5 * fs + 4 : 0
  const cellW = tw + 2 * border
  const cellH = th + 2 * border + labelH
  const rows = Math.ceil(tiles.length / columns)
  const out = rgbaImage(gap + columns * (cellW + gap), gap + rows * (cellH + gap), [...(opts.background ?? [24, 24, 24]), 255])
  tiles.forEach((t, i) => {
    const x = gap + (i % columns) * (cellW + gap)
    const y = gap + Math.floor(i / columns) * (cellH + gap)
    const color = t.correct === true ? CORRECT_COLOR : t.correct === false ? WRONG_COLOR : UNMARKED_COLOR
    fillRect(out, x, y, cellW, th + 2 * border, color)
    fillRect(out, x + border, y + border, tw, th, [0, 0, 0])
    blit(out, t.image, x + border, y + border)
    if (t.label) {
      const lx = x + Math.max(0, Math.floor((cellW - textWidth(t.label, fs)) / 2))
      drawText(out, t.label, lx, y + th + 2 * border + 2, t.correct === false ? WRONG_COLOR : TEXT_COLOR, fs)
    }
  })
  return out
}

function blit (dst: RgbaImage, src: RgbaImage, x: number, y: number): void {
  for (let row = 0; row < src.height; row++) {
    const from = row * src.width * 4
    dst.data.set(src.data.subarray(from, from + src.width * 4), ((y + row) * dst.width + x) * 4)
  }
}
