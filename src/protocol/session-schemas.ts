/**
 * Parameters and replies of the session routes (spec §1.3.1–§1.3.7, §1.3.11). Parameters are read
 * from the query string first, then from a JSON body (and a form body for /delete_session); the
 * merge happens before validation, so these schemas see one flat object.
 */
import { z } from 'zod';
import { agentTypeParam, boolParam, clientIdParam, intParam, lenientBoolParam, optionalText, requiredText, sessionIdParam } from './params.ts';

/** The common application-error body: `success:false` plus a message (and a stable code). */
export const errorReply = z.looseObject({
  success: z.literal(false),
  error: z.string(),
  code: z.string().optional(),
});

export const initQuery = z.object({
  agent_type: agentTypeParam,
  language_pair: requiredText,
  latency_multiplier: intParam.optional(),
  client_id: clientIdParam,
  evaluation_mode: lenientBoolParam.optional().transform((value) => value ?? false),
});

export const sessionReply = z.object({
  success: z.literal(true),
  session_id: z.string(),
  queued: z.boolean(),
  queue_position: z.number().int(),
  /** Ours: while queued, the estimated seconds until a slot frees (null: not queued, or no estimate yet). */
  estimated_wait_seconds: z.number().nullable(),
  initializing: z.boolean(),
  scheduler_based: z.literal(true),
  evaluation_mode: z.boolean(),
  language_pair: z.string(),
  latency_multiplier: z.number().int(),
});

export const loadModelQuery = z.object({
  language_pair: optionalText.transform((value) => value ?? 'English -> Chinese'),
  client_id: clientIdParam,
  /** Accepted and ignored, as in the original. */
  model_type: optionalText,
  latency_multiplier: intParam.optional(),
});

export const loadModelReply = sessionReply.extend({ message: z.string() });

export const sessionIdPath = z.object({ session_id: sessionIdParam });

export const queueStatusReply = z.union([
  z.object({
    session_id: z.string(),
    status: z.enum(['active', 'initializing', 'queued']),
    queued: z.boolean(),
    queue_position: z.number().int(),
    estimated_wait_seconds: z.number().nullable(),
    session_type: z.literal('scheduler'),
  }),
  z.object({ session_id: z.string(), status: z.literal('not_found'), error: z.string() }),
]);

export const requiredSessionQuery = z.object({ session_id: sessionIdParam });

/** /delete_session: a missing id is answered with the original's 200 "No session_id provided". */
export const optionalSessionQuery = z.object({ session_id: sessionIdParam.optional() });

export const pingReply = z.union([
  z.object({ success: z.literal(true), queued: z.boolean(), queue_position: z.number().int() }),
  errorReply,
]);

export const simpleSuccessReply = z.union([z.object({ success: z.literal(true) }), errorReply]);

export const resetReply = z.union([
  z.object({
    success: z.literal(true),
    status: z.literal('success'),
    message: z.string(),
    session_type: z.literal('scheduler'),
  }),
  errorReply,
]);

export const updateLatencyQuery = z.object({
  session_id: sessionIdParam,
  latency_multiplier: intParam,
});

export const updateLatencyReply = z.union([
  z.object({
    success: z.literal(true),
    message: z.string(),
    session_type: z.literal('scheduler'),
    latency_multiplier: z.number().int(),
  }),
  errorReply,
]);

export const enableEvaluationQuery = z.object({
  session_id: optionalText,
  agent_type: optionalText,
  language_pair: optionalText,
  user_id: optionalText,
});

export const includeDetailsQuery = z.object({
  include_details: boolParam.optional().transform((value) => value ?? false),
});

/**
 * The `*_by_user` routes find a session from a client id, which anyone can read off a shared
 * screen or guess; a caller who is not the operator must also name the session (`session_id`).
 */
export const delaysByUserQuery = z.object({
  user_id: requiredText,
  language_pair: requiredText,
  session_id: sessionIdParam.optional(),
  include_details: boolParam.optional().transform((value) => value ?? false),
});

export const exportDelaysQuery = z.object({
  session_id: sessionIdParam,
  filepath: optionalText,
});

export const exportDelaysByUserQuery = z.object({
  user_id: requiredText,
  language_pair: requiredText,
  session_id: sessionIdParam.optional(),
  filepath: optionalText,
});
