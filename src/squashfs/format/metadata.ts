/**
 * Metadata blocks (format page §6): a u16 header (bit 15 = stored raw, bits 0–14 = on-disk
 * payload length, never 0) followed by at most 8192 bytes of payload once decompressed. Every block
 * of a table except the last holds exactly 8192 uncompressed bytes.
 *
 * A metadata reference is `block_position_in_table * 65536 + offset_in_block`. JS `<<` is 32-bit,
 * so references are built with multiplication.
 */
import { METADATA_SIZE, METADATA_UNCOMPRESSED } from './constants.js';

export const METADATA_HEADER_SIZE = 2;

export function encodeMetadataHeader(onDiskLength: number, raw: boolean): number {
  return (raw ? METADATA_UNCOMPRESSED : 0) | onDiskLength;
}

export function decodeMetadataHeader(header: number): { length: number; raw: boolean } {
  return { length: header & 0x7fff, raw: (header & METADATA_UNCOMPRESSED) !== 0 };
}

export function makeRef(blockPosition: number, offset: number): number {
  return blockPosition * 0x10000 + offset;
}

export function refBlock(ref: number): number {
  return Math.floor(ref / 0x10000);
}

export function refOffset(ref: number): number {
  return ref % 0x10000;
}

export { METADATA_SIZE };
