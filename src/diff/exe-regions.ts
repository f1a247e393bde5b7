import { KIND_ARM64, KIND_DELTA, KIND_REF_ARM64, KIND_X86 } from './exe-transform.js';
import { KIND_PAGE_HASH, MAX_PAGE_SHIFT, MIN_PAGE_SHIFT, PAGE_HASH_SIZE, pageCount } from './page-hash.js';
import { KIND_REF_DATA, KIND_REF_SYMTAB, KIND_REF_X86, SYM_SIZE } from './ref-predict.js';

/**
 * Finds the code sections of an executable or library (ELF, PE/COFF, Mach-O, including fat Mach-O)
 * from its headers, for the machine-code transform. It only proposes regions: a wrong one costs
 * patch size, never correctness (the transform is a bijection, the result is checked by its hash),
 * so on anything it does not understand it returns no regions and the file is diffed as plain
 * bytes. Offsets are relative to the start of `file`.
 */
export interface CodeRegion {
  readonly kind: number;
  readonly offset: number;
  readonly length: number;
  readonly vaddr: number;
  readonly bits: number;
}

/** Files smaller than this are not worth a region (the transform table costs bytes). */
export const MIN_CODE_FILE = 4096;
const MIN_SECTION = 256;
const MAX_SECTIONS = 4096;

/** Width of the x86 displacements converted: enough for any call inside an image of `span` bytes. */
export function x86Bits(span: number): number {
  return Math.min(32, Math.max(20, Math.ceil(Math.log2(Math.max(span, 2))) + 2));
}

class View {
  constructor(
    readonly b: Uint8Array,
    readonly little: boolean,
  ) {}
  u8(o: number): number {
    const v = this.b[o];
    if (v === undefined) throw new RangeError('out of bounds');
    return v;
  }
  u16(o: number): number {
    return this.little ? this.u8(o) | (this.u8(o + 1) << 8) : (this.u8(o) << 8) | this.u8(o + 1);
  }
  u32(o: number): number {
    return this.little
      ? (this.u16(o) + this.u16(o + 2) * 65536) >>> 0
      : (this.u16(o) * 65536 + this.u16(o + 2)) >>> 0;
  }
  u64(o: number): number {
    const lo = this.u32(this.little ? o : o + 4);
    const hi = this.u32(this.little ? o + 4 : o);
    const v = hi * 4294967296 + lo;
    if (!Number.isSafeInteger(v)) throw new RangeError('64-bit value too large');
    return v;
  }
}

function clampRegion(
  out: CodeRegion[],
  fileLength: number,
  kind: number,
  offset: number,
  length: number,
  vaddr: number,
  bits: number,
): void {
  if (offset >= fileLength || length < MIN_SECTION) return;
  out.push({ kind, offset, length: Math.min(length, fileLength - offset), vaddr, bits });
}

function elf(b: Uint8Array): CodeRegion[] {
  const cls = b[4];
  const data = b[5];
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) return [];
  const v = new View(b, data === 1);
  const is64 = cls === 2;
  const machine = v.u16(18);
  const kind = machine === 62 || machine === 3 ? KIND_X86 : machine === 183 ? KIND_ARM64 : 0;
  if (kind === 0) return [];
  const shoff = is64 ? v.u64(40) : v.u32(32);
  const shentsize = v.u16(is64 ? 58 : 46);
  const shnum = v.u16(is64 ? 60 : 48);
  const phoff = is64 ? v.u64(32) : v.u32(28);
  const phentsize = v.u16(is64 ? 54 : 42);
  const phnum = v.u16(is64 ? 56 : 44);
  const raw: { offset: number; length: number; vaddr: number }[] = [];
  let lo = Infinity;
  let hi = 0;
  if (shoff > 0 && shnum > 0 && shnum <= MAX_SECTIONS && shentsize >= (is64 ? 64 : 40)) {
    for (let k = 0; k < shnum; k++) {
      const s = shoff + k * shentsize;
      const type = v.u32(s + 4);
      const flags = is64 ? v.u64(s + 8) : v.u32(s + 8);
      const addr = is64 ? v.u64(s + 16) : v.u32(s + 12);
      const offset = is64 ? v.u64(s + 24) : v.u32(s + 16);
      const size = is64 ? v.u64(s + 32) : v.u32(s + 20);
      const alloc = (flags & 2) !== 0;
      if (alloc && addr > 0) {
        lo = Math.min(lo, addr);
        hi = Math.max(hi, addr + size);
      }
      // SHT_PROGBITS with SHF_EXECINSTR
      if (type === 1 && (flags & 4) !== 0) raw.push({ offset, length: size, vaddr: addr });
    }
  } else if (phoff > 0 && phnum > 0 && phnum <= MAX_SECTIONS) {
    for (let k = 0; k < phnum; k++) {
      const s = phoff + k * phentsize;
      const type = v.u32(s);
      const flags = v.u32(is64 ? s + 4 : s + 24);
      const offset = is64 ? v.u64(s + 8) : v.u32(s + 4);
      const addr = is64 ? v.u64(s + 16) : v.u32(s + 8);
      const size = is64 ? v.u64(s + 32) : v.u32(s + 16);
      if (type !== 1) continue; // PT_LOAD
      lo = Math.min(lo, addr);
      hi = Math.max(hi, addr + size);
      if ((flags & 1) !== 0) raw.push({ offset, length: size, vaddr: addr });
    }
  }
  const bits = kind === KIND_X86 ? x86Bits(hi > lo ? hi - lo : b.length) : 0;
  const out: CodeRegion[] = [];
  for (const r of raw) clampRegion(out, b.length, kind, r.offset, r.length, r.vaddr, bits);
  return out;
}

function pe(b: Uint8Array): CodeRegion[] {
  const v = new View(b, true);
  const peOff = v.u32(0x3c);
  if (v.u32(peOff) !== 0x00004550) return [];
  const machine = v.u16(peOff + 4);
  const kind = machine === 0x8664 || machine === 0x14c ? KIND_X86 : machine === 0xaa64 ? KIND_ARM64 : 0;
  if (kind === 0) return [];
  const nsec = v.u16(peOff + 6);
  const optSize = v.u16(peOff + 20);
  const secTable = peOff + 24 + optSize;
  if (nsec > MAX_SECTIONS) return [];
  const raw: { offset: number; length: number; vaddr: number }[] = [];
  let hi = 0;
  for (let k = 0; k < nsec; k++) {
    const s = secTable + k * 40;
    const vsize = v.u32(s + 8);
    const rva = v.u32(s + 12);
    const rawSize = v.u32(s + 16);
    const rawPtr = v.u32(s + 20);
    const chars = v.u32(s + 36);
    hi = Math.max(hi, rva + Math.max(vsize, rawSize));
    // IMAGE_SCN_CNT_CODE or IMAGE_SCN_MEM_EXECUTE
    if ((chars & 0x20) !== 0 || (chars & 0x20000000) !== 0) {
      raw.push({ offset: rawPtr, length: vsize > 0 ? Math.min(vsize, rawSize) : rawSize, vaddr: rva });
    }
  }
  const bits = kind === KIND_X86 ? x86Bits(hi) : 0;
  const out: CodeRegion[] = [];
  for (const r of raw) clampRegion(out, b.length, kind, r.offset, r.length, r.vaddr, bits);
  return out;
}

function machO(b: Uint8Array, base: number, length: number): CodeRegion[] {
  const sub = b.subarray(base, base + length);
  const v = new View(sub, true);
  const magic = v.u32(0);
  if (magic !== 0xfeedfacf && magic !== 0xfeedface) return [];
  const is64 = magic === 0xfeedfacf;
  const cpu = v.u32(4);
  const kind = cpu === 0x0100000c ? KIND_ARM64 : cpu === 0x01000007 || cpu === 7 ? KIND_X86 : 0;
  if (kind === 0) return [];
  const ncmds = v.u32(16);
  if (ncmds > MAX_SECTIONS) return [];
  let at = is64 ? 32 : 28;
  const raw: { offset: number; length: number; vaddr: number }[] = [];
  let lo = Infinity;
  let hi = 0;
  for (let k = 0; k < ncmds; k++) {
    const cmd = v.u32(at);
    const size = v.u32(at + 4);
    if (size < 8) return [];
    const seg64 = cmd === 0x19;
    if (seg64 || cmd === 0x1) {
      const vmaddr = seg64 ? v.u64(at + 24) : v.u32(at + 24);
      const vmsize = seg64 ? v.u64(at + 32) : v.u32(at + 28);
      if (vmsize > 0 && !(vmaddr === 0 && vmsize <= 2 ** 32 && v.u32(at + (seg64 ? 60 : 44)) === 0)) {
        // (skip __PAGEZERO: no protection, address 0)
        lo = Math.min(lo, vmaddr);
        hi = Math.max(hi, vmaddr + vmsize);
      }
      const nsects = v.u32(at + (seg64 ? 64 : 48));
      let s = at + (seg64 ? 72 : 56);
      for (let j = 0; j < nsects && j < MAX_SECTIONS; j++) {
        const addr = seg64 ? v.u64(s + 32) : v.u32(s + 32);
        const ssize = seg64 ? v.u64(s + 40) : v.u32(s + 36);
        const offset = v.u32(s + (seg64 ? 48 : 40));
        const flags = v.u32(s + (seg64 ? 64 : 56));
        // S_ATTR_PURE_INSTRUCTIONS or S_ATTR_SOME_INSTRUCTIONS, and not zero-fill
        const type = flags & 0xff;
        if ((flags & 0x80000400) !== 0 && type !== 1 && offset > 0) {
          raw.push({ offset: base + offset, length: ssize, vaddr: addr });
        }
        s += seg64 ? 80 : 68;
      }
    }
    at += size;
  }
  const bits = kind === KIND_X86 ? x86Bits(hi > lo ? hi - lo : length) : 0;
  const out: CodeRegion[] = [];
  for (const r of raw) clampRegion(out, base + length, kind, r.offset, r.length, r.vaddr, bits);
  return out;
}

function fatMachO(b: Uint8Array): CodeRegion[] {
  const v = new View(b, false);
  const n = v.u32(4);
  if (n === 0 || n > 32) return [];
  const out: CodeRegion[] = [];
  for (let k = 0; k < n; k++) {
    const a = 8 + k * 20;
    const offset = v.u32(a + 8);
    const size = v.u32(a + 12);
    if (offset + size > b.length) continue;
    out.push(...machO(b, offset, size));
  }
  return out;
}

/** The code regions of `file`, sorted and non-overlapping; [] for anything else. */
export function codeRegions(file: Uint8Array): CodeRegion[] {
  if (file.length < MIN_CODE_FILE) return [];
  let found: CodeRegion[];
  try {
    const m0 = file[0];
    const m1 = file[1];
    if (m0 === 0x7f && m1 === 0x45 && file[2] === 0x4c && file[3] === 0x46) found = elf(file);
    else if (m0 === 0x4d && m1 === 0x5a) found = pe(file);
    else if (m0 === 0xca && m1 === 0xfe && file[2] === 0xba && file[3] === 0xbe) found = fatMachO(file);
    else if ((m0 === 0xcf || m0 === 0xce) && m1 === 0xfa && file[2] === 0xed && file[3] === 0xfe)
      found = machO(file, 0, file.length);
    else return [];
  } catch {
    return []; // headers point outside the file: plain bytes
  }
  found.sort((a, b) => a.offset - b.offset);
  const out: CodeRegion[] = [];
  let end = 0;
  for (const r of found) {
    const start = Math.max(r.offset, end);
    const stop = r.offset + r.length;
    if (stop - start < MIN_SECTION) continue;
    out.push({ ...r, offset: start, length: stop - start, vaddr: r.vaddr + (start - r.offset) });
    end = stop;
  }
  return out;
}

/**
 * Regions for reference prediction (src/diff/ref-predict.ts): every section of a 64-bit x86 or
 * arm64 executable that has bytes in the file, as x86 or arm64 code (executable sections) or data (the rest), with
 * its load address (`bits` 1) or none (`bits` 0: not loaded, e.g. a symbol table). Offsets are
 * relative to `file`; [] for anything else. PE addresses include the image base (pointers in the
 * image's data hold image base + RVA).
 */
export interface RefRegion {
  readonly kind: number;
  readonly offset: number;
  readonly length: number;
  readonly vaddr: number;
  readonly bits: number;
}

const MIN_REF_SECTION = 16;

/** Size of a DWARF pointer encoding's value in a 64-bit file (0 when unknown or omitted). */
function encodedSize(enc: number): number {
  if (enc === 0xff) return 0;
  const form = enc & 0x0f;
  return form === 0x02 || form === 0x0a
    ? 2
    : form === 0x03 || form === 0x0b
      ? 4
      : form === 0x00 || form === 0x04 || form === 0x0c
        ? 8
        : -1;
}

/**
 * The binary-search table of an ELF `.eh_frame_hdr` (found by its PT_GNU_EH_FRAME program header):
 * pairs of 32-bit offsets (function start, FDE) sorted by function start, as a DELTA region; or
 * undefined when there is none or its header is not the usual one.
 */
function ehFrameHdrTable(v: View): RefRegion | undefined {
  const phoff = v.u64(32);
  const phentsize = v.u16(54);
  const phnum = v.u16(56);
  if (phoff === 0 || phnum > MAX_SECTIONS || phentsize < 56) return undefined;
  for (let k = 0; k < phnum; k++) {
    const s = phoff + k * phentsize;
    if (v.u32(s) !== 0x6474e550) continue; // PT_GNU_EH_FRAME
    const offset = v.u64(s + 8);
    const size = v.u64(s + 32);
    // version 1, the table as datarel sdata4 (0x3b), the count as udata4
    if (v.u8(offset) !== 1 || v.u8(offset + 2) !== 0x03 || v.u8(offset + 3) !== 0x3b) return undefined;
    const ptrSize = encodedSize(v.u8(offset + 1));
    if (ptrSize < 0) return undefined;
    const table = offset + 4 + ptrSize + 4;
    const count = v.u32(offset + 4 + ptrSize);
    if (count < 2 || table + count * 8 > offset + size || table + count * 8 > v.b.length) return undefined;
    return { kind: KIND_DELTA, offset: table, length: count * 8, vaddr: 0, bits: 2 };
  }
  return undefined;
}

/** A section of a 64-bit Mach-O file (offsets relative to the file, not the slice). */
interface MachOSection {
  readonly segment: string;
  readonly name: string;
  readonly addr: number;
  readonly size: number;
  /** File offset (0: no bytes in the file). */
  readonly offset: number;
  readonly flags: number;
}

function name16(b: Uint8Array, at: number): string {
  let s = '';
  for (let k = 0; k < 16; k++) {
    const c = b[at + k] as number;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/** The sections of the LC_SEGMENT_64 commands of the 64-bit little-endian Mach-O at `base`. */
function machOSections(v: View, base: number): MachOSection[] {
  const ncmds = v.u32(base + 16);
  if (ncmds > MAX_SECTIONS) return [];
  let at = base + 32;
  const out: MachOSection[] = [];
  for (let k = 0; k < ncmds; k++) {
    const cmd = v.u32(at);
    const size = v.u32(at + 4);
    if (size < 8) return [];
    if (cmd === 0x19) {
      const nsects = v.u32(at + 64);
      let s = at + 72;
      for (let j = 0; j < nsects && j < MAX_SECTIONS; j++) {
        const offset = v.u32(s + 48);
        out.push({
          segment: name16(v.b, s + 16),
          name: name16(v.b, s),
          addr: v.u64(s + 32),
          size: v.u64(s + 40),
          offset: offset === 0 ? 0 : base + offset,
          flags: v.u32(s + 64),
        });
        s += 80;
      }
    }
    at += size;
  }
  return out;
}

/**
 * The sorted tables of a Mach-O `__unwind_info` section (compact unwind, version 1) as DELTA
 * regions: the first-level index (function offset, second-level page, LSDA index: 3 words), the
 * LSDA index (function offset, LSDA offset: 2 words) and the second-level pages to the section's
 * end (regular pages hold (function offset, encoding) pairs after an 8-byte header: 2 words).
 * Every function offset after an inserted or grown function changes; their differences do not.
 * [] when the section's header is not the usual one.
 */
function unwindInfoTables(v: View, s: MachOSection): CodeRegion[] {
  const at = s.offset;
  const end = at + s.size;
  if (s.size < 28 || end > v.b.length || v.u32(at) !== 1) return [];
  const index = v.u32(at + 20);
  const count = v.u32(at + 24);
  if (count < 2 || index < 28 || index + count * 12 > s.size) return [];
  const last = at + index + (count - 1) * 12;
  const lsda = v.u32(at + index + 8);
  const lsdaEnd = v.u32(last + 8);
  const pages = v.u32(at + index + 4);
  if (lsda < index + count * 12 || lsdaEnd < lsda || (lsdaEnd - lsda) % 8 !== 0) return [];
  if (pages < lsdaEnd || pages >= s.size) return [];
  const out: CodeRegion[] = [{ kind: KIND_DELTA, offset: at + index, length: count * 12, vaddr: 0, bits: 3 }];
  if (lsdaEnd - lsda >= 16) {
    out.push({ kind: KIND_DELTA, offset: at + lsda, length: lsdaEnd - lsda, vaddr: 0, bits: 2 });
  }
  if (s.size - pages >= 16) {
    out.push({ kind: KIND_DELTA, offset: at + pages, length: s.size - pages, vaddr: 0, bits: 2 });
  }
  return out;
}

/**
 * The page hashes of the code signature of the thin 64-bit Mach-O `v` (LC_CODE_SIGNATURE: a
 * SuperBlob whose first CodeDirectory with SHA-256 hashes of pages of 4-64 KB from the file's
 * start, big-endian), as a PAGE_HASH region: `vaddr` the bytes hashed (codeLimit), `bits` the page
 * size (log2); undefined when there is none or it is not the usual one.
 */
function codeSignatureSlots(v: View): CodeRegion | undefined {
  const ncmds = v.u32(16);
  if (ncmds > MAX_SECTIONS) return undefined;
  let at = 32;
  for (let k = 0; k < ncmds; k++) {
    const size = v.u32(at + 4);
    if (size < 8) return undefined;
    if (v.u32(at) === 0x1d) {
      const sig = v.u32(at + 8);
      const be = new View(v.b, false);
      if (be.u32(sig) !== 0xfade0cc0) return undefined; // CSMAGIC_EMBEDDED_SIGNATURE
      const count = be.u32(sig + 8);
      for (let j = 0; j < count && j < 32; j++) {
        const cd = sig + be.u32(sig + 16 + j * 8);
        if (be.u32(cd) !== 0xfade0c02) continue; // CSMAGIC_CODEDIRECTORY
        const slots = cd + be.u32(cd + 16);
        const codeLimit = be.u32(cd + 32);
        const shift = v.u8(cd + 39);
        // SHA-256 (type 2) of 32 bytes, no 64-bit code limit
        if (v.u8(cd + 36) !== PAGE_HASH_SIZE || v.u8(cd + 37) !== 2 || codeLimit === 0) continue;
        if (shift < MIN_PAGE_SHIFT || shift > MAX_PAGE_SHIFT) continue;
        const n = pageCount(codeLimit, shift);
        if (be.u32(cd + 28) !== n || codeLimit > slots || slots + n * PAGE_HASH_SIZE > v.b.length) continue;
        return {
          kind: KIND_PAGE_HASH,
          offset: slots,
          length: n * PAGE_HASH_SIZE,
          vaddr: codeLimit,
          bits: shift,
        };
      }
      return undefined;
    }
    at += size;
  }
  return undefined;
}

/**
 * The tables of the 64-bit little-endian Mach-O at `base` (x86-64 or arm64): its unwind tables
 * and, for a thin file (at 0), its code signature's page hashes.
 */
function machOTables(v: View, base: number): CodeRegion[] {
  if (v.u32(base) !== 0xfeedfacf) return [];
  const cpu = v.u32(base + 4);
  if (cpu !== 0x01000007 && cpu !== 0x0100000c) return [];
  const s = machOSections(v, base).find((x) => x.segment === '__TEXT' && x.name === '__unwind_info');
  const out = s === undefined || s.offset === 0 ? [] : unwindInfoTables(v, s);
  const slots = base === 0 ? codeSignatureSlots(v) : undefined;
  if (
    slots !== undefined &&
    !out.some((t) => t.offset < slots.offset + slots.length && slots.offset < t.offset + t.length)
  ) {
    out.push(slots);
  }
  return out;
}

/**
 * The sorted unwind tables of an executable, as DELTA regions, for files that are transformed
 * rather than predicted: the `.eh_frame_hdr` table of an ELF64 little-endian file of any machine,
 * the `__unwind_info` tables of a 64-bit Mach-O (fat too), and the page hashes of a thin Mach-O's
 * code signature (a PAGE_HASH region); [] when there is none or the headers are not understood.
 */
export function unwindTables(file: Uint8Array): CodeRegion[] {
  if (file.length < MIN_CODE_FILE) return [];
  try {
    const v = new View(file, true);
    if (file[0] === 0x7f && file[1] === 0x45 && file[2] === 0x4c && file[3] === 0x46) {
      if (file[4] !== 2 || file[5] !== 1) return [];
      const t = ehFrameHdrTable(v);
      return t === undefined ? [] : [t];
    }
    if (file[0] === 0xcf && file[1] === 0xfa && file[2] === 0xed && file[3] === 0xfe) {
      return machOTables(v, 0);
    }
    if (file[0] === 0xca && file[1] === 0xfe && file[2] === 0xba && file[3] === 0xbe) {
      const fat = new View(file, false);
      const n = fat.u32(4);
      if (n === 0 || n > 32) return [];
      const out: CodeRegion[] = [];
      for (let k = 0; k < n; k++) {
        const offset = fat.u32(8 + k * 20 + 8);
        if (offset + fat.u32(8 + k * 20 + 12) <= file.length) out.push(...machOTables(v, offset));
      }
      return out;
    }
  } catch {
    // headers point outside the file
  }
  return [];
}

/** `out` with `table` taking its place: regions overlapping it are cut around it. */
function carve(out: RefRegion[], table: RefRegion | undefined): RefRegion[] {
  if (table === undefined) return out;
  const end = table.offset + table.length;
  const cut: RefRegion[] = [table];
  for (const r of out) {
    const rEnd = r.offset + r.length;
    if (rEnd <= table.offset || r.offset >= end) {
      cut.push(r);
      continue;
    }
    if (r.offset < table.offset) cut.push({ ...r, length: table.offset - r.offset });
    if (rEnd > end) {
      const d = end - r.offset;
      cut.push({ ...r, offset: end, length: rEnd - end, vaddr: loaded(r) ? r.vaddr + d : r.vaddr });
    }
  }
  return cut;
}

/** The file offset of the string table of the ELF64 symbol table whose header is at `s`, or -1. */
function symbolStrings(v: View, shoff: number, shentsize: number, shnum: number, s: number): number {
  if (v.u64(s + 56) !== SYM_SIZE) return -1; // sh_entsize
  const link = v.u32(s + 40);
  if (link === 0 || link >= shnum) return -1;
  const t = shoff + link * shentsize;
  if (v.u32(t + 4) !== 3) return -1; // SHT_STRTAB
  const offset = v.u64(t + 24);
  return offset > 0 && offset < v.b.length ? offset : -1;
}

/** A region whose `vaddr` is a load address (moves with the region's start when it is cut). */
function loaded(r: RefRegion): boolean {
  return r.bits === 1 && (r.kind === KIND_REF_X86 || r.kind === KIND_REF_DATA || r.kind === KIND_REF_ARM64);
}

function elfRefs(b: Uint8Array): RefRegion[] {
  if (b[4] !== 2 || b[5] !== 1) return [];
  const v = new View(b, true);
  const machine = v.u16(18);
  if (machine !== 62 && machine !== 183) return []; // x86-64, aarch64
  const codeKind = machine === 62 ? KIND_REF_X86 : KIND_REF_ARM64;
  const shoff = v.u64(40);
  const shentsize = v.u16(58);
  const shnum = v.u16(60);
  if (shoff === 0 || shnum === 0 || shnum > MAX_SECTIONS || shentsize < 64) return [];
  const out: RefRegion[] = [];
  for (let k = 0; k < shnum; k++) {
    const s = shoff + k * shentsize;
    const type = v.u32(s + 4);
    const flags = v.u64(s + 8);
    const addr = v.u64(s + 16);
    const offset = v.u64(s + 24);
    const size = v.u64(s + 32);
    if (type === 0 || type === 8 || offset === 0 || size < MIN_REF_SECTION) continue; // NULL, NOBITS
    const strtab = type === 2 || type === 11 ? symbolStrings(v, shoff, shentsize, shnum, s) : -1;
    if (strtab >= 0) {
      // SYMTAB, DYNSYM: names through the string table, values as pointers (not loaded itself:
      // what points into .dynsym is one word of .dynamic)
      out.push({ kind: KIND_REF_SYMTAB, offset, length: size, vaddr: strtab, bits: 0 });
      continue;
    }
    const alloc = (flags & 2) !== 0 && addr > 0;
    const code = type === 1 && (flags & 4) !== 0;
    out.push({
      kind: code ? codeKind : KIND_REF_DATA,
      offset,
      length: size,
      // (arm64 code needs its address: it is transformed by address)
      vaddr: alloc || (code && codeKind === KIND_REF_ARM64) ? addr : 0,
      bits: alloc || (code && codeKind === KIND_REF_ARM64) ? 1 : 0,
    });
  }
  return carve(out, ehFrameHdrTable(v));
}

function peRefs(b: Uint8Array): RefRegion[] {
  const v = new View(b, true);
  const peOff = v.u32(0x3c);
  if (v.u32(peOff) !== 0x00004550 || v.u16(peOff + 4) !== 0x8664) return [];
  const nsec = v.u16(peOff + 6);
  const optSize = v.u16(peOff + 20);
  const opt = peOff + 24;
  if (v.u16(opt) !== 0x20b || nsec > MAX_SECTIONS) return []; // PE32+ only
  const imageBase = v.u64(opt + 24);
  const out: RefRegion[] = [];
  // The exception directory (.pdata): RUNTIME_FUNCTION records (begin, end, unwind info RVAs).
  const dirs = v.u32(opt + 108);
  const pdataRva = dirs > 3 ? v.u32(opt + 112 + 3 * 8) : 0;
  const pdataSize = dirs > 3 ? v.u32(opt + 112 + 3 * 8 + 4) : 0;
  let pdata: RefRegion | undefined;
  for (let k = 0; k < nsec; k++) {
    const s = opt + optSize + k * 40;
    const vsize = v.u32(s + 8);
    const rva = v.u32(s + 12);
    const rawSize = v.u32(s + 16);
    const rawPtr = v.u32(s + 20);
    const chars = v.u32(s + 36);
    const length = vsize > 0 ? Math.min(vsize, rawSize) : rawSize;
    if (rawPtr === 0 || length < MIN_REF_SECTION) continue;
    const code = (chars & 0x20) !== 0 || (chars & 0x20000000) !== 0;
    out.push({
      kind: code ? KIND_REF_X86 : KIND_REF_DATA,
      offset: rawPtr,
      length,
      vaddr: imageBase + rva,
      bits: 1,
    });
    const records = Math.floor(pdataSize / 12);
    if (records >= 2 && pdataRva >= rva && pdataRva + records * 12 <= rva + length) {
      pdata = {
        kind: KIND_DELTA,
        offset: rawPtr + (pdataRva - rva),
        length: records * 12,
        vaddr: 0,
        bits: 3,
      };
    }
  }
  return carve(out, pdata);
}

function machORefs(b: Uint8Array): RefRegion[] {
  const v = new View(b, true);
  const cpu = v.u32(4);
  if (v.u32(0) !== 0xfeedfacf || (cpu !== 0x01000007 && cpu !== 0x0100000c)) return [];
  const codeKind = cpu === 0x01000007 ? KIND_REF_X86 : KIND_REF_ARM64;
  let out: RefRegion[] = [];
  for (const s of machOSections(v, 0)) {
    const type = s.flags & 0xff;
    // not zero-fill (S_ZEROFILL 1, S_GB_ZEROFILL 12, S_THREAD_LOCAL_ZEROFILL 18)
    if (s.offset > 0 && s.size >= MIN_REF_SECTION && type !== 1 && type !== 12 && type !== 18) {
      const code = (s.flags & 0x80000400) !== 0;
      out.push({
        kind: code ? codeKind : KIND_REF_DATA,
        offset: s.offset,
        length: s.size,
        vaddr: s.addr,
        bits: 1,
      });
    }
  }
  for (const t of machOTables(v, 0)) out = carve(out, t);
  return out;
}

/** The reference regions of `file` (64-bit x86 ELF, PE32+, Mach-O; arm64 ELF, Mach-O), sorted and non-overlapping. */
export function refRegions(file: Uint8Array): RefRegion[] {
  if (file.length < MIN_CODE_FILE) return [];
  let found: RefRegion[];
  try {
    const m0 = file[0];
    const m1 = file[1];
    if (m0 === 0x7f && m1 === 0x45 && file[2] === 0x4c && file[3] === 0x46) found = elfRefs(file);
    else if (m0 === 0x4d && m1 === 0x5a) found = peRefs(file);
    else if (m0 === 0xcf && m1 === 0xfa && file[2] === 0xed && file[3] === 0xfe) found = machORefs(file);
    else return [];
  } catch {
    return [];
  }
  found.sort((a, b) => a.offset - b.offset);
  const out: RefRegion[] = [];
  let end = 0;
  for (const r of found) {
    const start = Math.max(r.offset, end);
    const stop = Math.min(r.offset + r.length, file.length);
    if (stop - start < MIN_REF_SECTION) continue;
    // (page hashes are whole or not at all: their length follows from what they hash)
    if (r.kind === KIND_PAGE_HASH && (start !== r.offset || stop !== r.offset + r.length)) continue;
    out.push({
      ...r,
      offset: start,
      length: stop - start,
      vaddr: loaded(r) ? r.vaddr + (start - r.offset) : r.vaddr,
    });
    end = stop;
  }
  return out;
}
