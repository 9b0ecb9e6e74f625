/**
 * Building blocks for request parameters. Values arrive as strings from the query string or form
 * body, or as JSON values from a JSON body, so each block accepts both. Booleans follow the
 * original's FastAPI/pydantic rules (true/1/yes/on/t/y, false/0/no/off/f/n, any case).
 */
import { z } from 'zod';

const trueWords = new Set(['true', '1', 'yes', 'on', 't', 'y']);
const falseWords = new Set(['false', '0', 'no', 'off', 'f', 'n']);

/** A boolean parameter; anything but the words above is a validation error (422). */
export const boolParam = z.union([
  z.boolean(),
  z
    .union([z.string(), z.number()])
    .transform((value, ctx) => {
      const word = String(value).trim().toLowerCase();
      if (trueWords.has(word)) return true;
      if (falseWords.has(word)) return false;
      ctx.addIssue({ code: 'custom', message: `expected a boolean (true/false/1/0/yes/no/on/off), got "${String(value)}"` });
      return z.NEVER;
    }),
]);

/** `/init`'s evaluation_mode: a *string* in the original; true iff true/1/yes/on, anything else false. */
export const lenientBoolParam = z
  .union([z.boolean(), z.string(), z.number()])
  .transform((value) => (typeof value === 'boolean' ? value : ['true', '1', 'yes', 'on'].includes(String(value).trim().toLowerCase())));

/** Longest numeric string accepted: longer ones are refused before any pattern runs. */
const MAX_NUMBER_TEXT = 64;

/** An integer given as a JSON number or a decimal string. */
export const intParam = z.union([
  z.number().int('expected an integer'),
  z
    .string()
    .max(MAX_NUMBER_TEXT, `expected an integer (at most ${MAX_NUMBER_TEXT} characters)`)
    .trim()
    .regex(/^[+-]?\d+$/, 'expected an integer')
    .transform(Number),
]);

/**
 * A finite number given as a JSON number or a numeric string. The pattern has one way to match
 * any input (digits, then an optional "." with digits), so it runs in linear time.
 */
export const numberParam = z.union([
  z.number().finite(),
  z
    .string()
    .max(MAX_NUMBER_TEXT, `expected a number (at most ${MAX_NUMBER_TEXT} characters)`)
    .trim()
    .regex(/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/, 'expected a number')
    .transform(Number)
    .refine(Number.isFinite, 'expected a finite number'),
]);

/** A required, non-empty text parameter. */
export const requiredText = z.string().trim().min(1, 'must not be empty').max(1000, 'too long (max 1000 characters)');

/** An optional text parameter; "" counts as absent, as the original's `if client_id:`. */
export const optionalText = z
  .string()
  .max(1000, 'too long (max 1000 characters)')
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

/**
 * Text that becomes the first part of a session id (client_id, else agent_type), and so of URL
 * paths, file names and log lines: no "/", "\\", "?", "#", "%", no control or invisible format
 * characters (bidi overrides would make an id read differently than it is), at most 128 characters.
 */
const ID_PART = /^[^/\\?#%\p{Cc}\p{Cf}]{1,128}$/u;
const ID_PART_RULE = 'may not contain / \\ ? # %, control or invisible formatting characters, and must be at most 128 characters';

export const clientIdParam = optionalText.refine((value) => value === undefined || ID_PART.test(value), { message: `client_id ${ID_PART_RULE}` });

/** `/init`'s agent_type: required, and held to the same rule as client_id. */
export const agentTypeParam = requiredText.refine((value) => ID_PART.test(value), { message: `agent_type ${ID_PART_RULE}` });

/** Session ids: as created by /init, but any text is accepted for lookup (unknown ids are answered, not rejected). */
export const sessionIdParam = z.string().min(1, 'must not be empty').max(1000, 'too long');
