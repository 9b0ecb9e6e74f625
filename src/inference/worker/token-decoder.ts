import type { ModelManifest } from '../manifest.ts';

/** GPT-2's byte <-> printable-unicode alphabet used by byte-level BPE (Llama-3, Qwen2). */
function byteLevelAlphabet(): Map<string, number> {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const charToByte = new Map<string, number>();
  let next = 0;
  for (let b = 0; b < 256; b++) {
    const code = printable.includes(b) ? b : 256 + next++;
    charToByte.set(String.fromCodePoint(code), b);
  }
  return charToByte;
}

let alphabet: Map<string, number> | undefined;
const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * Turns generated token ids into text, skipping special tokens. Decoding is done on the whole
 * id list (not piece by piece) so multi-byte characters split across tokens come out whole.
 */
export function decodeTokens(ids: readonly number[], tokens: readonly string[], manifest: ModelManifest): string {
  const skip = new Set(manifest.specialTokens.skipInText);
  const pieces = ids.filter((id) => !skip.has(id) && id >= 0 && id < tokens.length).map((id) => tokens[id] ?? '');
  switch (manifest.tokenizer.decoding) {
    case 'plain':
      return pieces.join('');
    case 'sentencepiece': {
      const bytes: number[] = [];
      for (const piece of pieces) {
        const byteMatch = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
        if (byteMatch?.[1]) bytes.push(parseInt(byteMatch[1], 16));
        else bytes.push(...Buffer.from(piece.replaceAll('\u2581', ' '), 'utf8'));
      }
      return utf8.decode(Uint8Array.from(bytes));
    }
    case 'byte-level': {
      alphabet ??= byteLevelAlphabet();
      const bytes: number[] = [];
      for (const piece of pieces) {
        for (const ch of piece) {
          const b = alphabet.get(ch);
          if (b !== undefined) bytes.push(b);
          else bytes.push(...Buffer.from(ch, 'utf8'));
        }
      }
      return utf8.decode(Uint8Array.from(bytes));
    }
  }
}
