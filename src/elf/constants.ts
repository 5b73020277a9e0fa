// Numeric constants from the ELF gABI, the GNU extensions and the psABIs.
// Only what this reader consults; names follow <elf.h>.

export const ET = { NONE: 0, REL: 1, EXEC: 2, DYN: 3, CORE: 4 } as const;

export const PT = {
  NULL: 0,
  LOAD: 1,
  DYNAMIC: 2,
  INTERP: 3,
  NOTE: 4,
  PHDR: 6,
  TLS: 7,
  GNU_EH_FRAME: 0x6474e550,
  GNU_STACK: 0x6474e551,
  GNU_RELRO: 0x6474e552,
  GNU_PROPERTY: 0x6474e553,
} as const;

export const PF = { X: 1, W: 2, R: 4 } as const;

export const SHT = {
  NULL: 0,
  SYMTAB: 2,
  STRTAB: 3,
  DYNAMIC: 6,
  NOTE: 7,
  NOBITS: 8,
  DYNSYM: 11,
} as const;

export const SHN_UNDEF = 0;
export const SHN_XINDEX = 0xffff;
export const PN_XNUM = 0xffff;

export const DT = {
  NULL: 0,
  NEEDED: 1,
  HASH: 4,
  STRTAB: 5,
  SYMTAB: 6,
  STRSZ: 10,
  SYMENT: 11,
  SONAME: 14,
  RPATH: 15,
  DEBUG: 21,
  BIND_NOW: 24,
  RUNPATH: 29,
  FLAGS: 30,
  GNU_HASH: 0x6ffffef5,
  FLAGS_1: 0x6ffffffb,
  // String-valued tags readelf -d prints as "[...]".
  CONFIG: 0x6ffffefa,
  DEPAUDIT: 0x6ffffefb,
  AUDIT: 0x6ffffefc,
  AUXILIARY: 0x7ffffffd,
  FILTER: 0x7fffffff,
} as const;

export const DF_BIND_NOW = 0x8;
export const DF_1_NOW = 0x1;
export const DF_1_PIE = 0x08000000;

export const NT_GNU_BUILD_ID = 3;
export const NT_GNU_PROPERTY_TYPE_0 = 5;
export const GNU_PROPERTY_AARCH64_FEATURE_1_AND = 0xc0000000;
export const GNU_PROPERTY_X86_FEATURE_1_AND = 0xc0000002;
export const GNU_PROPERTY_X86_FEATURE_1_IBT = 0x1;
export const GNU_PROPERTY_X86_FEATURE_1_SHSTK = 0x2;
export const GNU_PROPERTY_AARCH64_FEATURE_1_BTI = 0x1;
export const GNU_PROPERTY_AARCH64_FEATURE_1_PAC = 0x2;

export const EM = {
  X86_64: 62,
  I386: 3,
  AARCH64: 183,
  ARM: 40,
} as const;

/** e_machine → short architecture name (as used by Debian/OCI where one exists). */
const MACHINES: ReadonlyMap<number, string> = new Map([
  [0, "none"],
  [2, "sparc"],
  [3, "i386"],
  [4, "m68k"],
  [8, "mips"],
  [10, "mips-rs3-le"],
  [15, "parisc"],
  [18, "sparc32plus"],
  [20, "ppc"],
  [21, "ppc64"],
  [22, "s390x"], // EM_S390 covers 31- and 64-bit; class tells them apart
  [40, "arm"],
  [42, "sh"],
  [43, "sparc64"],
  [50, "ia64"],
  [62, "x86_64"],
  [92, "openrisc"],
  [94, "xtensa"],
  [164, "hexagon"],
  [183, "aarch64"],
  [188, "tilepro"],
  [191, "tilegx"],
  [243, "riscv"],
  [247, "bpf"],
  [252, "csky"],
  [258, "loongarch"],
  [0x9026, "alpha"],
]);

export function machineName(em: number, elfClass: 32 | 64): string {
  if (em === 22) return elfClass === 64 ? "s390x" : "s390";
  if (em === 243) return elfClass === 64 ? "riscv64" : "riscv32";
  if (em === 258) return elfClass === 64 ? "loongarch64" : "loongarch32";
  if (em === 8 && elfClass === 64) return "mips64";
  return MACHINES.get(em) ?? `unknown(${em})`;
}
