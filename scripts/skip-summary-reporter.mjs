// A node:test reporter that prints, after the run, every skipped test and why. The spec reporter
// marks skips inline among hundreds of lines; this puts them where a reader looks: the end.
// (Tests left out by --test-name-pattern are not listed: they were not asked for.)
export default async function* skipSummary(source) {
  const skipped = [];
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { skip, name, file } = event.data;
    if (skip === undefined || skip === false) continue;
    if (typeof skip === 'string' && skip.startsWith('test name does not match pattern')) continue;
    skipped.push(`  - ${name}${typeof skip === 'string' ? ` — ${skip}` : ''}${file ? ` (${file.replace(`${process.cwd()}/`, '')})` : ''}`);
  }
  if (skipped.length > 0) yield `\nskipped ${skipped.length} test(s):\n${skipped.join('\n')}\n`;
  else yield '\nno test was skipped\n';
}
