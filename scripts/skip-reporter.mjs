// A node:test reporter that writes one JSON line per finished test (name, file, outcome, skip
// reason). scripts/run-tests.mjs reads it to list every skip at the end of a run and to fail a CI
// run that skipped a test for a missing tool.
export default async function* skipReporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const data = event.data;
    if (data.details?.type === 'suite') continue;
    const skip =
      data.skip === undefined || data.skip === false
        ? undefined
        : data.skip === true
          ? ''
          : String(data.skip);
    yield `${JSON.stringify({
      name: data.name,
      file: data.file,
      outcome:
        event.type === 'test:fail' ? 'fail' : skip !== undefined ? 'skip' : data.todo ? 'todo' : 'pass',
      skip,
    })}\n`;
  }
}
