import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';

/** Debian's `chromium` package (scripts/bootstrap.sh installs it); `CHROMIUM` overrides the path. */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Fails (never skips) when Chromium is missing, saying how to get it. */
export function requireChromium(): string {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `Chromium not found at ${CHROMIUM}: run scripts/bootstrap.sh (it installs Debian's chromium package), or set CHROMIUM to its path`,
    );
  return CHROMIUM;
}

/** What one headless Chromium run produced. */
export interface ChromiumRun {
  readonly stdout: string;
  /** Messages the page logged or threw (`CONSOLE` lines of `--enable-logging=stderr`), in order. */
  readonly console: string[];
}

/**
 * Runs headless Chromium once on a local file with a throwaway profile, and collects what the page printed to
 * the console (console.* calls, uncaught exceptions and Content-Security-Policy refusals all land there).
 */
async function runChromium(file: string, args: readonly string[]): Promise<ChromiumRun> {
  const binary = requireChromium();
  const profile = await mkdtemp(join(tmpdir(), 'chromium-profile-'));
  try {
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      execFile(
        binary,
        [
          '--headless=new',
          '--no-sandbox',
          '--disable-gpu',
          '--no-first-run',
          '--disable-extensions',
          '--hide-scrollbars',
          `--user-data-dir=${profile}`,
          '--enable-logging=stderr',
          '--v=0',
          ...args,
          pathToFileURL(file).href,
        ],
        { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
        (err, out, errOut) => {
          if (err) reject(new Error(`chromium ${args.join(' ')} failed: ${err.message}\n${errOut}`));
          else resolve({ stdout: out, stderr: errOut });
        },
      );
    });
    const consoleLines = stderr.split('\n').filter((l) => /:CONSOLE[:(]/.test(l) || /Uncaught/.test(l));
    return { stdout, console: consoleLines };
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

/** A page as headless Chromium saw it. */
export interface LoadedPage extends ChromiumRun {
  /** The DOM after load, serialized (`--dump-dom`). */
  readonly dom: string;
  /** The viewport's screenshot, decoded. */
  readonly image: DecodedPng;
}

/**
 * Loads `file` once in a `width`×`height` window: writes a PNG screenshot of the viewport to `png`, and returns
 * it decoded with the DOM after load and what the page logged.
 *
 * @example
 * const page = await loadPage('/tmp/report.html', '/tmp/report.png');
 * expect(page.console).toEqual([]);
 */
export async function loadPage(
  file: string,
  png: string,
  { width = 1280, height = 2000 }: { width?: number; height?: number } = {},
): Promise<LoadedPage> {
  const run = await runChromium(file, [
    '--dump-dom',
    `--screenshot=${png}`,
    `--window-size=${width},${height}`,
  ]);
  return { ...run, dom: run.stdout, image: decodePng(await readFile(png)) };
}

/** An 8-bit RGBA image. */
export interface DecodedPng {
  readonly width: number;
  readonly height: number;
  /** `width × height × 4` bytes, row by row. */
  readonly rgba: Uint8Array;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decodes a non-interlaced 8-bit RGB or RGBA PNG (what Chromium writes): the IDAT chunks inflated with
 * node:zlib, then each scanline unfiltered. Enough to count pixels without an image library.
 */
export function decodePng(buf: Buffer): DecodedPng {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  for (let pos = 8; pos < buf.length;) {
    const length = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colour, , , interlace] = [data[8], data[9], data[10], data[11], data[12]];
      if (depth !== 8 || interlace !== 0 || (colour !== 2 && colour !== 6))
        throw new Error(`unsupported PNG: depth ${depth}, colour type ${colour}, interlace ${interlace}`);
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    pos += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[row + x - channels]! : 0;
      const b = y > 0 ? pixels[row - stride + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[row - stride + x - channels]! : 0;
      const predictor = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter];
      if (predictor === undefined) throw new Error(`bad PNG filter ${filter} on row ${y}`);
      pixels[row + x] = (raw[src + x]! + predictor) & 0xff;
    }
  }
  if (channels === 4) return { width, height, rgba: pixels };
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < pixels.length; i += 3, j += 4) {
    rgba[j] = pixels[i]!;
    rgba[j + 1] = pixels[i + 1]!;
    rgba[j + 2] = pixels[i + 2]!;
    rgba[j + 3] = 255;
  }
  return { width, height, rgba };
}

/** Share of pixels that differ from `background` by more than `tolerance` in any channel (0..1). */
export function inkRatio(
  image: DecodedPng,
  background: readonly [number, number, number] = [255, 255, 255],
  tolerance = 16,
): number {
  let ink = 0;
  const { rgba } = image;
  for (let i = 0; i < rgba.length; i += 4) {
    if (
      Math.abs(rgba[i]! - background[0]) > tolerance ||
      Math.abs(rgba[i + 1]! - background[1]) > tolerance ||
      Math.abs(rgba[i + 2]! - background[2]) > tolerance
    )
      ink++;
  }
  return ink / (image.width * image.height);
}
