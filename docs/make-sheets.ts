// Renders the side-by-side sheets in docs/sheets/: for each built-in style, the original, the
// native OpenCV recipe (bench/opencv_styles.py) and Atelier on a dark, a bright, a grey and a large
// photo, plus 1:1 crops. Needs python3-opencv (apt-get install -y python3-opencv).
//   node docs/make-sheets.ts [style,style...]
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import sharp from 'sharp';
import { runStep } from '@atelier/core';
import type { RawImage } from '@atelier/core';
import { builtinPlugins } from '@atelier/plugins';

const root = fileURLToPath(new URL('..', import.meta.url));
const images = path.join(root, 'test/fixtures/images');
const outDir = path.join(root, 'docs/sheets');
const STYLES = ['cartoon', 'sketch', 'color-pencil', 'oil-painting', 'watercolor', 'pop-art'];
const only = process.argv[2]?.split(',') ?? STYLES;

interface Photo {
  label: string;
  file: string;
  width: number;
  grey?: boolean;
}
const photos: Photo[] = [
  { label: 'dark', file: 'evening-glow-2560x1600.jpg', width: 1920 },
  { label: 'bright', file: 'colorful-cups-2560x1600.jpg', width: 1920 },
  { label: 'grey', file: 'fallen-leaf-2560x1600.jpg', width: 1920, grey: true },
  { label: 'large 5120x2880', file: 'volna-5120x2880.jpg', width: 5120 },
];
const CELL = 560;

async function prepare(photo: Photo, dir: string): Promise<{ png: string; raw: RawImage }> {
  let pipeline = sharp(path.join(images, photo.file)).resize({ width: photo.width });
  if (photo.grey) pipeline = pipeline.greyscale().toColourspace('srgb');
  const { data: decoded, info } = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  // A grey photo decodes to one channel; the styles (and OpenCV) get it as RGB.
  let data: Uint8Array = decoded;
  if (info.channels === 1) {
    data = new Uint8Array(decoded.length * 3);
    for (let i = 0; i < decoded.length; i++) data[i * 3] = data[i * 3 + 1] = data[i * 3 + 2] = decoded[i]!;
  }
  const raw: RawImage = { data, width: info.width, height: info.height, channels: 3 };
  const png = path.join(dir, `${photo.label.split(' ')[0]}.png`);
  await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toFile(png);
  return { png, raw };
}

const toPng = (img: RawImage): Promise<Buffer> =>
  sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } })
    .png()
    .toBuffer();

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'atelier-sheets-'));
  await mkdir(outDir, { recursive: true });
  try {
    const prepared: { photo: Photo; png: string; raw: RawImage; cvDir: string }[] = [];
    for (const photo of photos) {
      const { png, raw } = await prepare(photo, work);
      const cvDir = path.join(work, `cv-${photo.label.split(' ')[0]}`);
      await mkdir(cvDir);
      const names = only.map((s) => s.replace('-', '_')).join(',');
      execFileSync('/usr/bin/python3', [
        path.join(root, 'bench/opencv_styles.py'),
        png,
        '0',
        '1',
        '2',
        names,
        '--out',
        cvDir,
      ]);
      prepared.push({ photo, png, raw, cvDir });
    }
    for (const style of only) {
      const plugin = builtinPlugins.find((p) => p.id === style);
      if (!plugin) throw new Error(`no built-in style ${style}`);
      const rows: Buffer[][] = [];
      const crops: Buffer[] = [];
      for (const { photo, png, raw, cvDir } of prepared) {
        const ours = await toPng(await runStep(plugin, raw, {}, { seed: 1 }));
        const cv = await readFile(path.join(cvDir, `${style.replace('-', '_')}.png`));
        const original = await readFile(png);
        rows.push([original, cv, ours]);
        if (photo.label === 'bright') {
          const region = { left: 760, top: 380, width: CELL, height: Math.round(CELL * 0.625) };
          for (const img of [original, cv, ours])
            crops.push(await sharp(img).extract(region).png().toBuffer());
        }
      }
      const cellH = Math.round(CELL * 0.625);
      const head = 34;
      const canvas = createCanvas(CELL * 3 + 8, head + (rows.length + 1) * (cellH + 22) + 4);
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.fillStyle = '#111111';
      ctx.font = 'bold 20px sans-serif';
      ctx.fillText(`${style}: original | OpenCV recipe | Atelier`, 8, 24);
      ctx.font = '14px sans-serif';
      let y = head;
      const all = [
        ...rows.map((r, i) => ({ label: prepared[i]!.photo.label, cells: r })),
        { label: 'bright, 1:1 crop', cells: crops },
      ];
      for (const row of all) {
        ctx.fillStyle = '#444444';
        ctx.fillText(row.label, 8, y + 15);
        for (const [col, buffer] of row.cells.entries()) {
          const thumb = await sharp(buffer)
            .resize(CELL - 4, cellH, { fit: 'contain', background: '#ffffff' })
            .png()
            .toBuffer();
          ctx.drawImage(await loadImage(thumb), 4 + col * (CELL + 2), y + 20);
        }
        y += cellH + 22;
      }
      const file = path.join(outDir, `${style}.jpg`);
      await sharp(await canvas.encode('png'))
        .jpeg({ quality: 82 })
        .toFile(file);
      console.log('wrote', path.relative(root, file));
    }
    // Overview: the six styles on the bright photo.
    if (only.length === STYLES.length) {
      const { raw } = prepared[1]!;
      const small = await sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: 3 } })
        .resize(960)
        .raw()
        .toBuffer({ resolveWithObject: true });
      const input: RawImage = {
        data: small.data,
        width: small.info.width,
        height: small.info.height,
        channels: 3,
      };
      const W = 480;
      const H = Math.round((W * input.height) / input.width);
      const canvas = createCanvas(W * 4 + 10, (H + 24) * 2 + 6);
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.font = '15px sans-serif';
      const tiles: [string, Buffer][] = [['original', await toPng(input)]];
      for (const style of STYLES) {
        const plugin = builtinPlugins.find((p) => p.id === style)!;
        tiles.push([style, await toPng(await runStep(plugin, input, {}, { seed: 1 }))]);
      }
      for (const [i, [label, png]] of tiles.entries()) {
        const x = 2 + (i % 4) * (W + 2);
        const y = Math.floor(i / 4) * (H + 24);
        ctx.fillStyle = '#222222';
        ctx.fillText(label, x + 2, y + 17);
        ctx.drawImage(await loadImage(await sharp(png).resize(W, H).png().toBuffer()), x, y + 22);
      }
      await sharp(await canvas.encode('png'))
        .jpeg({ quality: 82 })
        .toFile(path.join(outDir, 'overview.jpg'));
      console.log('wrote docs/sheets/overview.jpg');
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
