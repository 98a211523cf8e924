// lzma-native ships no types; this declares the small part of its native Stream we drive.
declare module 'lzma-native' {
  export interface LzmaFilter {
    /** lzma-native names filters by string (its FILTER_* constants, e.g. 'LZMA_FILTER_LZMA2'). */
    id: string;
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
    /** lzma_raw_encoder: the filter chain's output alone, no .xz container. */
    rawEncoder_(filters: LzmaFilter[]): void;
    streamDecoder_(memlimit: number | null, flags: number): void;
    code(chunk: Uint8Array | null, async: boolean): void;
    resetUnderlying(): void;
  }
  const lzma: {
    Stream: typeof Stream;
    CHECK_CRC32: number;
    CHECK_NONE: number;
    FILTER_LZMA2: string;
    FILTER_X86: string;
    FILTER_POWERPC: string;
    FILTER_IA64: string;
    FILTER_ARM: string;
    FILTER_ARMTHUMB: string;
    FILTER_SPARC: string;
    MODE_NORMAL: number;
    MF_BT4: number;
  };
  export default lzma;
}
