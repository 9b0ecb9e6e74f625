/**
 * Writes docs/openapi.json: the OpenAPI document of the HTTP API, generated from the routes' zod
 * schemas by @fastify/swagger on the real app (the default config and models). A test checks the
 * committed file is current: run `npm run openapi` after changing a route.
 *
 *   npm run openapi            write docs/openapi.json
 *   npm run openapi -- --check exit 1 when docs/openapi.json differs from the routes
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildApp } from '../src/app.ts';
import { toEngineOptions } from '../src/config/engine-options.ts';
import { defaultConfig } from '../src/config/load-config.ts';
import { createEngine } from '../src/inference/engine/engine.ts';

const ROOT = new URL('..', import.meta.url).pathname;
export const OPENAPI_FILE = join(ROOT, 'docs', 'openapi.json');

/** The document as JSON text, with a stable version field (the file must not change on every release). */
export async function generateOpenApi(): Promise<string> {
  const config = defaultConfig();
  const engine = await createEngine({ ...toEngineOptions(config, ROOT), devices: [{ device: 'cpu', workers: 1, intraOpThreads: 1 }] });
  try {
    const app = await buildApp({ ...config, media: { ...config.media, youtube: { ...config.media.youtube, enabled: false } } }, { engine, runTimers: false, cwd: ROOT });
    await app.ready();
    const document = app.swagger() as { info: { version: string } };
    document.info.version = 'see GET /health';
    await app.close();
    return `${JSON.stringify(document, null, 2)}\n`;
  } finally {
    await engine.close(0);
  }
}

async function main(): Promise<void> {
  const text = await generateOpenApi();
  if (process.argv.includes('--check')) {
    const current = await readFile(OPENAPI_FILE, 'utf8').catch(() => '');
    if (current !== text) {
      console.error('docs/openapi.json is out of date: run npm run openapi');
      process.exit(1);
    }
    console.log('docs/openapi.json is current');
    return;
  }
  await writeFile(OPENAPI_FILE, text);
  console.log(`wrote ${OPENAPI_FILE}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
