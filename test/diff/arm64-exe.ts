import { createHash } from 'node:crypto';
import { prng, writeElf64 } from './helpers.js';

/**
 * A recompiled arm64 "program" for the tests of the region finder and the predictor: functions of
 * instruction words calling each other (BL), jumping to each other (B), taking the address of a
 * data word (ADRP + ADD) and loading one (ADRP + LDR), between noise words that are no such
 * instruction; a data table of 64-bit pointers to the functions. Version 2 (`grow` > 0) grows
 * every 50th function (or `every`th; `refs` false: no references, only noise) by `grow` words, so every function and data word after it moves and every
 * reference across it changes, as in a real update.
 */
export interface Arm64Program {
  /** The code (`__text` / `.text`), at `codeAddr`. */
  readonly code: Buffer;
  /** Function starts, as offsets into `code`. */
  readonly starts: readonly number[];
  readonly codeAddr: number;
  /** The data (pointers to the functions), at `dataAddr`. */
  readonly data: Buffer;
  readonly dataAddr: number;
}

export function arm64Program(
  grow: number,
  opts: { funcs?: number; every?: number; refs?: boolean } = {},
): Arm64Program {
  const FUNCS = opts.funcs ?? 600;
  const every = opts.every ?? 50;
  const rand = prng(5);
  const changed = (f: number): boolean => grow > 0 && f % every === 7 % every;
  const sizes = Array.from({ length: FUNCS }, (_, f) => 40 + ((f * 37) % 80) + (changed(f) ? grow : 0));
  const starts: number[] = [];
  let at = 0;
  for (const s of sizes) {
    starts.push(at);
    at += s * 4;
  }
  const codeAddr = 0x100004000;
  const code = Buffer.alloc(at);
  // The data follows the code at the next 16-byte boundary (so it moves when the code grows).
  const dataAddr = codeAddr + 0x10000 + Math.ceil(at / 16) * 16;
  const data = Buffer.alloc(FUNCS * 8);
  for (let f = 0; f < FUNCS; f++) {
    const noise = rand(4 * 256); // the same words for a function in both versions
    let p = starts[f]!;
    const end = p + sizes[f]! * 4;
    let n = 0;
    const pc = (): number => codeAddr + p;
    while (p + 8 <= end) {
      const reg = n % 8;
      if (opts.refs === false) {
        // only noise
      } else if (n % 5 === 0) {
        const target = codeAddr + starts[(f * 31 + n * 17) % FUNCS]!;
        code.writeUInt32LE((0x94000000 | (((target - pc()) / 4) & 0x3ffffff)) >>> 0, p); // BL
        p += 4;
      } else if (n % 5 === 1 || n % 5 === 3) {
        const target = dataAddr + ((f + n) % FUNCS) * 8;
        const page = Math.floor(target / 4096) - Math.floor(pc() / 4096);
        const imm = page & 0x1fffff;
        code.writeUInt32LE((0x90000000 | ((imm & 3) << 29) | ((imm >>> 2) << 5) | reg) >>> 0, p); // ADRP
        const lo12 = target % 4096;
        code.writeUInt32LE(
          n % 5 === 1
            ? (0x91000000 | (lo12 << 10) | (reg << 5) | reg) >>> 0 // ADD xR, xR, #lo12
            : (0xf9400000 | ((lo12 / 8) << 10) | (reg << 5) | ((reg + 1) % 8)) >>> 0, // LDR x, [xR, #lo12]
          p + 4,
        );
        p += 8;
      } else if (n % 5 === 2 && n % 3 === 0) {
        const target = codeAddr + starts[(f * 7 + n) % FUNCS]!;
        code.writeUInt32LE((0x14000000 | (((target - pc()) / 4) & 0x3ffffff)) >>> 0, p); // B
        p += 4;
      }
      // ORR (shifted register) with noise, no word the scan looks at: 3 after each reference
      for (let k = 0; k < (opts.refs === false ? 1 : 3) && p + 4 <= end; k++) {
        code.writeUInt32LE((0xaa000000 | (noise.readUInt32LE(p - starts[f]!) & 0xffffff)) >>> 0, p);
        p += 4;
      }
      n++;
    }
    while (p < end) {
      code.writeUInt32LE(0xd65f03c0, p); // RET
      p += 4;
    }
  }
  for (let f = 0; f < FUNCS; f++) data.writeBigUInt64LE(BigInt(codeAddr + starts[f]!), f * 8);
  return { code, starts, codeAddr, data, dataAddr };
}

/**
 * A Mach-O `__unwind_info` section (compact unwind, version 1) for functions at `starts` (offsets
 * from the image base `textOffset` maps to): the first-level index, an LSDA index for every 10th
 * function and regular second-level pages of (function offset, encoding) pairs, as ld writes them.
 */
export function unwindInfo(starts: readonly number[], textOffset: number, codeLength: number): Buffer {
  const perPage = 200;
  const pages = Math.ceil(starts.length / perPage);
  const indexOff = 28 + 4; // header, one common encoding
  const lsdaOff = indexOff + (pages + 1) * 12;
  const lsdaFuncs = starts.filter((_, f) => f % 10 === 3);
  const pagesOff = lsdaOff + lsdaFuncs.length * 8;
  const b = Buffer.alloc(pagesOff + pages * (8 + perPage * 8));
  b.writeUInt32LE(1, 0);
  b.writeUInt32LE(28, 4);
  b.writeUInt32LE(1, 8);
  b.writeUInt32LE(32, 12); // no personalities
  b.writeUInt32LE(0, 16);
  b.writeUInt32LE(indexOff, 20);
  b.writeUInt32LE(pages + 1, 24);
  b.writeUInt32LE(0x04000000, 28);
  lsdaFuncs.forEach((s, k) => {
    b.writeUInt32LE(textOffset + s, lsdaOff + k * 8);
    b.writeUInt32LE(0x50000 + k * 24, lsdaOff + k * 8 + 4);
  });
  for (let pg = 0; pg <= pages; pg++) {
    const first = pg * perPage;
    const i = indexOff + pg * 12;
    b.writeUInt32LE(textOffset + (pg < pages ? starts[first]! : codeLength), i);
    b.writeUInt32LE(pg < pages ? pagesOff + pg * (8 + perPage * 8) : 0, i + 4);
    const lsdaBefore = lsdaFuncs.filter((s) => pg < pages && s < starts[first]!).length;
    b.writeUInt32LE(lsdaOff + (pg < pages ? lsdaBefore : lsdaFuncs.length) * 8, i + 8);
    if (pg === pages) break;
    const page = pagesOff + pg * (8 + perPage * 8);
    const n = Math.min(perPage, starts.length - first);
    b.writeUInt32LE(2, page);
    b.writeUInt16LE(8, page + 4);
    b.writeUInt16LE(n, page + 6);
    for (let k = 0; k < n; k++) {
      b.writeUInt32LE(textOffset + starts[first + k]!, page + 8 + k * 8);
      b.writeUInt32LE(0x04000000 | ((first + k) % 3), page + 12 + k * 8);
    }
  }
  return b;
}

interface Section {
  readonly segment: string;
  readonly name: string;
  readonly addr: number;
  readonly offset: number;
  readonly bytes: Buffer;
  readonly flags: number;
}

/**
 * A 64-bit arm64 Mach-O executable (only what the region finder reads: the header and one
 * LC_SEGMENT_64 per segment) with __TEXT,__text, __TEXT,__unwind_info (unless `unwind` is false)
 * and __DATA_CONST,__const; with `sign`, an ad-hoc code signature (LC_CODE_SIGNATURE: a SuperBlob
 * with one CodeDirectory holding the SHA-256 of every 4 KB page before it, as ld writes it;
 * `hashType` other than 2 gives a signature the region finder does not take).
 */
export function machOArm64(
  p: Arm64Program,
  opts: { unwind?: boolean; cpu?: number; sign?: boolean; hashType?: number } = {},
): Buffer {
  const textOff = 0x4000;
  const unwindOff = textOff + Math.ceil(p.code.length / 16) * 16;
  const unwind = opts.unwind === false ? Buffer.alloc(0) : unwindInfo(p.starts, textOff, p.code.length);
  const dataOff = unwindOff + Math.ceil((unwind.length + 1) / 16) * 16;
  const sections: Section[] = [
    {
      segment: '__TEXT',
      name: '__text',
      addr: p.codeAddr,
      offset: textOff,
      bytes: p.code,
      flags: 0x80000400,
    },
    { segment: '__DATA_CONST', name: '__const', addr: p.dataAddr, offset: dataOff, bytes: p.data, flags: 0 },
  ];
  if (unwind.length > 0) {
    const addr = p.codeAddr + (unwindOff - textOff);
    sections.splice(1, 0, {
      segment: '__TEXT',
      name: '__unwind_info',
      addr,
      offset: unwindOff,
      bytes: unwind,
      flags: 0,
    });
  }
  const sigOff = Math.ceil((dataOff + p.data.length + 1) / 16) * 16;
  const pages = Math.ceil(sigOff / 4096);
  const cdOff = 20; // SuperBlob header and its one index entry
  const sigLen = opts.sign === true ? cdOff + 88 + pages * 32 : 0;
  const b = Buffer.alloc(opts.sign === true ? sigOff + sigLen : dataOff + p.data.length + 64);
  b.writeUInt32LE(0xfeedfacf, 0);
  b.writeUInt32LE(opts.cpu ?? 0x0100000c, 4);
  const segments = [...new Set(sections.map((s) => s.segment))];
  b.writeUInt32LE(segments.length + (opts.sign === true ? 1 : 0), 16);
  let cmd = 32;
  for (const seg of segments) {
    const own = sections.filter((s) => s.segment === seg);
    b.writeUInt32LE(0x19, cmd);
    b.writeUInt32LE(72 + own.length * 80, cmd + 4);
    b.write(seg, cmd + 8, 'latin1');
    b.writeUInt32LE(own.length, cmd + 64);
    own.forEach((s, k) => {
      const at = cmd + 72 + k * 80;
      b.write(s.name, at, 'latin1');
      b.write(s.segment, at + 16, 'latin1');
      b.writeBigUInt64LE(BigInt(s.addr), at + 32);
      b.writeBigUInt64LE(BigInt(s.bytes.length), at + 40);
      b.writeUInt32LE(s.offset, at + 48);
      b.writeUInt32LE(s.flags, at + 64);
      s.bytes.copy(b, s.offset);
    });
    cmd += 72 + own.length * 80;
  }
  if (opts.sign === true) {
    b.writeUInt32LE(0x1d, cmd); // LC_CODE_SIGNATURE
    b.writeUInt32LE(16, cmd + 4);
    b.writeUInt32LE(sigOff, cmd + 8);
    b.writeUInt32LE(sigLen, cmd + 12);
    b.writeUInt32BE(0xfade0cc0, sigOff);
    b.writeUInt32BE(sigLen, sigOff + 4);
    b.writeUInt32BE(1, sigOff + 8);
    b.writeUInt32BE(0, sigOff + 12); // CSSLOT_CODEDIRECTORY
    b.writeUInt32BE(cdOff, sigOff + 16);
    const cd = sigOff + cdOff;
    b.writeUInt32BE(0xfade0c02, cd);
    b.writeUInt32BE(88 + pages * 32, cd + 4);
    b.writeUInt32BE(0x20400, cd + 8);
    b.writeUInt32BE(0x20002, cd + 12); // adhoc, linker-signed
    b.writeUInt32BE(88, cd + 16); // hashOffset
    b.writeUInt32BE(88, cd + 20); // identOffset (no identifier)
    b.writeUInt32BE(pages, cd + 28);
    b.writeUInt32BE(sigOff, cd + 32); // codeLimit
    b[cd + 36] = 32;
    b[cd + 37] = opts.hashType ?? 2;
    b[cd + 39] = 12;
    for (let k = 0; k < pages; k++) {
      const page = b.subarray(k * 4096, Math.min((k + 1) * 4096, sigOff));
      createHash('sha256')
        .update(page)
        .digest()
        .copy(b, cd + 88 + k * 32);
    }
  }
  return b;
}

/** An ELF64 aarch64 executable with .text and a .data.rel.ro of pointers (section headers only). */
export function elfArm64(p: Arm64Program): Buffer {
  const textOff = 0x1000;
  const dataOff = textOff + p.code.length + 64;
  const shoff = dataOff + p.data.length + 64;
  const b = Buffer.alloc(shoff + 3 * 64);
  writeElf64(b, 183, shoff, [
    { type: 1, flags: 6, addr: p.codeAddr, offset: textOff, size: p.code.length }, // PROGBITS, ALLOC|EXEC
    { type: 1, flags: 3, addr: p.dataAddr, offset: dataOff, size: p.data.length }, // PROGBITS, WRITE|ALLOC
  ]);
  p.code.copy(b, textOff);
  p.data.copy(b, dataOff);
  return b;
}
