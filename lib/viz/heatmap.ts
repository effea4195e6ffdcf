// Attention maps drawn over the picture they looked at.
import { type RgbaImage, resizeBilinear } from './image'

export type ColormapName = 'viridis' | 'inferno' | 'jet' | 'gray'

// matplotlib's viridis and inferno at 0, 0.1, …, 1 (perceptually uniform, brightness rising
// with the value, readable in grey print), linearly interpolated between the stops.
const STOPS: Record<'viridis' | 'inferno', number[]> = {
  viridis: [0x440154, 0x482475, 0x414487, 0x355f8d, 0x2a788e, 0x21918c, 0x22a884, 0x44bf70, 0x7ad151, 0xbddf26, 0xfde725],
  inferno: [0x000004, 0x160b39, 0x420a68, 0x6a176e, 0x932667, 0xbc3754, 0xdd513a, 0xf37819, 0xfca50a, 0xf6d746, 0xfcffa4]
}

/** The colour of v ∈ [0, 1] (clamped; NaN as 0) in a colour map, as [r, g, b] bytes. */
export function colormap (name: ColormapName, v: number): [number, number, number] {
  const t = Number.isNaN(v) ? 0 : Math.min(1, Math.max(0, v))
  switch (name) {
    case 'gray': {
      const b = Math.round(t * 255)
      return [b, b, b]
    }
    case 'jet': {
      // The classic MATLAB jet as three clamped ramps (blue → cyan → yellow → red).
      const c = (x: number): number => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - x))))
      return [c(3), c(2), c(1)]
    }
    case 'viridis':
    case 'inferno': {
      const stops = STOPS[name]
      const f = t * (stops.length - 1)
      const i = Math.min(stops.length - 2, Math.floor(f))
      const u = f - i
      const a = stops[i]
      const b = stops[i + 1]
      const mix = (shift: number): number => Math.round(((a >> shift) & 255) * (1 - u) + ((b >> shift) & 255) * u)
      return [mix(16), mix(8), mix(0)]
    }
    default:
      throw new RangeError(`colormap: name must be 'viridis', 'inferno', 'jet' or 'gray', got '${String(name)}'`)
  }
}

export interface HeatmapOptions {
  /** Colour map (default 'viridis'). */
  colormap?: ColormapName
  /** Weight of the colour over the picture, in [0, 1] (default 0.5). */
  alpha?: number
  /** Output pixels per picture pixel (default 1): 28×28 digits are easier to see at 4. */
  scale?: number
  /**
   * How map values become colours (default 'minmax'): 'minmax' stretches the map's own
   * range to [0, 1] (a constant map draws as 0); 'none' takes values as they are (a sigmoid
   * gate already lies in [0, 1]), clamped.
   */
  normalize?: 'minmax' | 'none'
}

/** A one-channel picture: `data` has width·height values in [0, 1]. */
export interface GreyImage {
  width: number
  height: number
  data: ArrayLike<number>
}

/**
 * An attention map [mapH, mapW] spread bilinearly over `image` (grey or RGBA) and blended
 * with a colour map: out = (1 − alpha)·picture + alpha·colour(map). Returns RGBA of the
 * picture's size times `scale`.
 */
export function heatmap (image: GreyImage | RgbaImage, map: ArrayLike<number>, mapShape: readonly [number, number],
  opts: HeatmapOptions = {}): RgbaImage {
  const [mh, mw] = mapShape
  if (map.length !== mh * mw) throw new RangeError(`heatmap: map must hold ${mh}·${mw} = ${mh * mw} values for shape [${mh},${mw}], got ${map.length}`)
  const scale = opts.scale ?? 1
  if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`heatmap: scale must be a positive integer, got ${scale}`)
  const alpha = opts.alpha ?? 0.5
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`heatmap: alpha must be in [0, 1], got ${alpha}`)
  const cmap = opts.colormap ?? 'viridis'
  const W = image.width * scale
  const H = image.height * scale
  const up = resizeBilinear(map, mw, mh, W, H)
  let lo = 0
  let span = 1
  if ((opts.normalize ?? 'minmax') === 'minmax') {
    lo = Infinity
    let hi = -Infinity
    for (let i = 0; i < map.length; i++) {
      if (map[i] < lo) lo = map[i]
      if (map[i] > hi) hi = map[i]
    }
    span = hi > lo ? hi - lo : Infinity
  }
  const isRgba = image.data instanceof Uint8Array && image.data.length === image.width * image.height * 4
  const out = new Uint8Array(W * H * 4)
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const src = Math.floor(y / scale) * image.width + Math.floor(x / scale)
      const o = (y * W + x) * 4
      const rgb = colormap(cmap, (up[y * W + x] - lo) / span)
      const grey = isRgba ? 0 : 255 * Math.min(1, Math.max(0, image.data[src]))
      for (let c = 0; c < 3; c++) {
        const base = isRgba ? image.data[src * 4 + c] : grey
        out[o + c] = Math.round((1 - alpha) * base + alpha * rgb[c])
      }
      out[o + 3] = 255
    }
  }
  return { width: W, height: H, data: out }
}
