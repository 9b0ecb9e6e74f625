import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/errors.ts';
import { isYoutubeVideoId, maxYoutubeInputLength, parseYoutubeVideo } from '../../src/media/youtube-url.ts';

const id = 'dQw4w9WgXcQ';

test('accepts the usual YouTube URL shapes and bare ids, returning only the id', () => {
  const accepted = [
    id,
    `  ${id}  `,
    `https://www.youtube.com/watch?v=${id}`,
    `https://youtube.com/watch?v=${id}&t=42s&list=PL123`,
    `http://m.youtube.com/watch?feature=share&v=${id}`,
    `https://music.youtube.com/watch?v=${id}`,
    `https://youtu.be/${id}`,
    `https://youtu.be/${id}?si=abc`,
    `https://www.youtube.com/shorts/${id}`,
    `https://www.youtube.com/embed/${id}`,
    `https://www.youtube.com/live/${id}?feature=share`,
    `https://www.youtube-nocookie.com/embed/${id}`,
    `https://WWW.YOUTUBE.COM/watch?v=${id}`,
    `www.youtube.com/watch?v=${id}`,
    `youtu.be/${id}`,
  ];
  for (const input of accepted) {
    const ref = parseYoutubeVideo(input);
    assert.equal(ref.videoId, id, input);
    assert.equal(ref.canonicalUrl, `https://www.youtube.com/watch?v=${id}`);
  }
});

test('rejects other hosts, look-alike hosts and userinfo tricks', () => {
  const rejected = [
    `https://evil.example/watch?v=${id}`,
    `https://youtube.com.evil.example/watch?v=${id}`,
    `https://evilyoutube.com/watch?v=${id}`,
    `https://youtube.com@evil.example/watch?v=${id}`,
    `https://user:pass@www.youtube.com/watch?v=${id}`,
    `https://www.youtube.com:8443/watch?v=${id}`,
    `https://evil.example/?u=https://www.youtube.com/watch?v=${id}`,
    `https://evil.example/youtu.be/${id}`,
    `https://127.0.0.1/watch?v=${id}`,
    `http://169.254.169.254/latest/meta-data/`,
    `http://localhost:8000/watch?v=${id}`,
    `https://www.youtube.com./watch?v=${id}`,
    `https://www.youtube.com%2eevil.example/watch?v=${id}`,
  ];
  for (const input of rejected) assert.throws(() => parseYoutubeVideo(input), isBadRequest, input);
});

test('rejects non-http schemes and option-like input', () => {
  const rejected = [
    `file:///etc/passwd`,
    `file://www.youtube.com/watch?v=${id}`,
    `javascript:alert(1)//www.youtube.com/watch?v=${id}`,
    `ftp://www.youtube.com/watch?v=${id}`,
    `data:text/html,<b>${id}</b>`,
    `--exec=touch /tmp/pwned`,
    `-o/tmp/x ${id}`,
    `--config-location=/etc/passwd`,
    `${id} --batch-file /etc/passwd`,
  ];
  for (const input of rejected) assert.throws(() => parseYoutubeVideo(input), isBadRequest, input);
});

test('rejects URLs that do not name exactly one well-formed video', () => {
  const rejected = [
    'https://www.youtube.com/',
    'https://www.youtube.com/watch',
    `https://www.youtube.com/watch?v=${id}&v=aaaaaaaaaaa`,
    'https://www.youtube.com/watch?v=short',
    `https://www.youtube.com/watch?v=${id}x`,
    'https://www.youtube.com/watch?v=dQw4w9WgX%2FQ',
    'https://www.youtube.com/playlist?list=PL123',
    `https://www.youtube.com/channel/${id}`,
    `https://youtu.be/${id}/extra`,
    'https://youtu.be/',
    `https://www.youtube.com/shorts/${id}/more`,
    'dQw4w9WgXc!',
    '',
    '   ',
  ];
  for (const input of rejected) assert.throws(() => parseYoutubeVideo(input), isBadRequest, JSON.stringify(input));
});

test('rejects non-strings and very long input without echoing it', () => {
  for (const input of [undefined, null, 42, { url: id }, [id]]) {
    assert.throws(() => parseYoutubeVideo(input), isBadRequest);
  }
  const long = `https://www.youtube.com/watch?v=${id}&pad=${'a'.repeat(maxYoutubeInputLength)}`;
  assert.throws(() => parseYoutubeVideo(long), (error: unknown) => {
    assert.ok(error instanceof AppError);
    assert.match(error.message, /longer than/);
    assert.ok(error.message.length < 200, 'the message must not echo the input');
    return true;
  });
});

test('recognises video ids by their exact shape', () => {
  assert.equal(isYoutubeVideoId(id), true);
  assert.equal(isYoutubeVideoId('a-b_c-d_e-f'), true);
  assert.equal(isYoutubeVideoId('../../etc/p'), false);
  assert.equal(isYoutubeVideoId(`${id}\n`), false);
});

function isBadRequest(error: unknown): boolean {
  return error instanceof AppError && error.code === 'badRequest' && error.message.startsWith('Invalid YouTube URL');
}
