import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/*
 * The default log sink (lib/common/log.ts) batches event lines per turn of the
 * event loop. Its promises only hold in a real process with a real stdout pipe:
 * every line arrives, in order, as one JSON object; one turn's lines cost one
 * write; a warning is preceded by the events logged before it; and lines still
 * pending when the process exits (even through process.exit) are not lost.
 */

const LOG_MODULE = fileURLToPath(new URL('../lib/common/log.js', import.meta.url));
const REPORT_MARK = '@@writes ';

interface ChildRun {
  readonly stdoutLines: string[];
  readonly stderrLines: string[];
  /** Every write to stdout ('out') or stderr ('err') in order, with how many lines it carried. */
  readonly writes: Array<{ stream: 'out' | 'err'; lines: number }>;
  readonly exitCode: number | null;
}

/**
 * Runs `body` in a fresh node process that imports the compiled log module. The
 * child counts its own writes (stdout and stderr wrapped before any logging) and
 * reports them on stderr from an exit listener registered after log.ts's own.
 */
function runChild(body: string): Promise<ChildRun> {
  const script = `
    import { writeSync } from 'node:fs';
    const writes = [];
    for (const [name, stream] of [['out', process.stdout], ['err', process.stderr]]) {
      const original = stream.write.bind(stream);
      stream.write = (chunk, ...rest) => {
        writes.push({ stream: name, lines: String(chunk).split('\\n').length - 1 });
        return original(chunk, ...rest);
      };
    }
    const { createLogger } = await import(${JSON.stringify(LOG_MODULE)});
    process.on('exit', () => writeSync(2, ${JSON.stringify(REPORT_MARK)} + JSON.stringify(writes) + '\\n'));
    const logger = createLogger({ base: { child: true } });
    ${body}
  `;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const exitCode = error ? ((error as { code?: number | null }).code ?? null) : 0;
      const stderrLines = stderr.split('\n').filter((line) => line.length > 0);
      const report = stderrLines.find((line) => line.startsWith(REPORT_MARK));
      if (!report) return reject(new Error(`the child reported no writes (exit ${exitCode}): ${stderr}`));
      resolve({
        stdoutLines: stdout.split('\n').filter((line) => line.length > 0),
        stderrLines: stderrLines.filter((line) => !line.startsWith(REPORT_MARK)),
        writes: JSON.parse(report.slice(REPORT_MARK.length)) as ChildRun['writes'],
        exitCode,
      });
    });
  });
}

/** Each line must be one JSON object from this logger; returns the objects. */
function parsed(lines: string[]): Array<Record<string, unknown>> {
  return lines.map((line) => {
    const value = JSON.parse(line) as unknown;
    assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), `not a JSON object: ${line}`);
    return value as Record<string, unknown>;
  });
}

function assertSequence(objects: Array<Record<string, unknown>>, event: string, count: number): void {
  assert.equal(objects.length, count);
  objects.forEach((object, i) => {
    assert.equal(object.event, event);
    assert.equal(object.n, i, `line ${i} out of order`);
    assert.equal(object.child, true);
  });
}

describe('default log sink: event lines batched per turn of the event loop', function () {
  this.timeout(20_000);
  // Large enough (about 1 MB) to overrun a pipe's buffer: a write lost at exit would show.
  const N = 5_000;
  const pad = 'x'.repeat(150);

  it('writes one turn of event lines in one write, every line a JSON object, in order', async function () {
    const run = await runChild(`for (let n = 0; n < ${N}; n++) logger.info('turn.one', { n, pad: '${pad}' });`);
    assert.equal(run.exitCode, 0);
    assertSequence(parsed(run.stdoutLines), 'turn.one', N);
    assert.deepEqual(run.writes, [{ stream: 'out', lines: N }], 'one write for the whole turn');
  });

  it('writes each turn separately, keeping the order across turns', async function () {
    const run = await runChild(`
      for (let n = 0; n < 3; n++) logger.info('turn', { n });
      setImmediate(() => { for (let n = 3; n < 5; n++) logger.info('turn', { n }); });
    `);
    assertSequence(parsed(run.stdoutLines), 'turn', 5);
    assert.deepEqual(run.writes, [
      { stream: 'out', lines: 3 },
      { stream: 'out', lines: 2 },
    ]);
  });

  it('writes a warning at once, after the event lines logged before it', async function () {
    const run = await runChild(`
      for (let n = 0; n < ${N}; n++) logger.info('before.warn', { n, pad: '${pad}' });
      logger.warn('the.warning', { n: 0 });
      logger.info('after.warn', { n: 0 });
      logger.error('the.error', { n: 1 });
      // Written at once: nothing of the above may still be pending here.
      process.stderr.write('marker\\n');
    `);
    assert.equal(run.exitCode, 0);
    const out = parsed(run.stdoutLines);
    assertSequence(out.slice(0, N), 'before.warn', N);
    assertSequence(out.slice(N), 'after.warn', 1);
    const err = run.stderrLines;
    assert.deepEqual(
      err.map((line) => (line === 'marker' ? line : (JSON.parse(line) as { event: string }).event)),
      ['the.warning', 'the.error', 'marker'],
    );
    assert.deepEqual(run.writes, [
      { stream: 'out', lines: N },
      { stream: 'err', lines: 1 },
      { stream: 'out', lines: 1 },
      { stream: 'err', lines: 1 },
      { stream: 'err', lines: 1 },
    ]);
  });

  /*
   * At exit Node hands stdout only what a pipe accepts at once (64 KiB on Linux) and drops the rest,
   * as it always did for lines written just before process.exit: these runs stay under that size.
   */
  const AT_EXIT = 300;

  it('loses nothing when the process exits through process.exit in the same turn', async function () {
    const run = await runChild(`
      for (let n = 0; n < ${AT_EXIT}; n++) logger.info('then.exit', { n });
      process.exit(0);
    `);
    assert.equal(run.exitCode, 0);
    assertSequence(parsed(run.stdoutLines), 'then.exit', AT_EXIT);
    assert.deepEqual(run.writes, [{ stream: 'out', lines: AT_EXIT }], 'flushed once, at exit');
  });

  it('loses nothing when the process dies of an uncaught exception', async function () {
    const run = await runChild(`
      for (let n = 0; n < ${AT_EXIT}; n++) logger.info('then.throw', { n });
      throw new Error('boom');
    `);
    assert.equal(run.exitCode, 1);
    assertSequence(parsed(run.stdoutLines), 'then.throw', AT_EXIT);
    assert.ok(run.stderrLines.some((line) => line.includes('boom')));
  });

  it('loses nothing when the process exits with a failure code after a warning', async function () {
    const run = await runChild(`
      logger.info('first', { n: 0 });
      logger.warn('failing', { n: 0 });
      for (let n = 0; n < 10; n++) logger.info('last.words', { n });
      process.exitCode = 3;
      process.exit();
    `);
    assert.equal(run.exitCode, 3);
    const out = parsed(run.stdoutLines);
    assertSequence(out.slice(0, 1), 'first', 1);
    assertSequence(out.slice(1), 'last.words', 10);
    assert.deepEqual(run.writes, [
      { stream: 'out', lines: 1 },
      { stream: 'err', lines: 1 },
      { stream: 'out', lines: 10 },
    ]);
  });
});
