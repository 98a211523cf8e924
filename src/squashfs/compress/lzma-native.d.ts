// lzma-native ships no types; this declares the small part of its native Stream we drive.
declare module 'lzma-native' {
  export interface LzmaFilter {
    id: number;
    options?: Record<string, number>;
  }
  export class Stream {
    bufferHandler: (
      buf: Uint8Array | null | undefined,
      processedChunks: number | undefined,
      err: Error | null | undefined,
      totalIn: number | null,
      totalOut: number | null,
    ) => void;
    streamEncoder_(filters: LzmaFilter[], check: number): void;
    streamDecoder_(memlimit: number | null, flags: number): void;
    code(chunk: Uint8Array | null, async: boolean): void;
    resetUnderlying(): void;
  }
  const lzma: {
    Stream: typeof Stream;
    CHECK_CRC32: number;
    CHECK_NONE: number;
    FILTER_LZMA2: number;
    FILTER_X86: number;
    FILTER_POWERPC: number;
    FILTER_IA64: number;
    FILTER_ARM: number;
    FILTER_ARMTHUMB: number;
    FILTER_SPARC: number;
    MODE_NORMAL: number;
    MF_BT4: number;
  };
  export default lzma;
}
