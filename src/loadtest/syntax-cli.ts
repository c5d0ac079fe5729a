import { relative } from 'node:path';
import { checkK6Scripts, formatSyntaxProblem, listScripts } from './syntax.js';

/*
 * CI's syntax gate (.ci/run): `node dist/src/loadtest/syntax-cli.js loadtests` parses every script
 * under the given folders as k6 before v0.52 would, prints each problem as `<file>:<line>:<col>: …`
 * and exits 1 when there is any. The same check runs in `vigil validate` for configured profiles.
 */

const folders = process.argv.slice(2);
if (folders.length === 0) {
  process.stderr.write('usage: node dist/src/loadtest/syntax-cli.js FOLDER...\n');
  process.exit(64);
}
const files = (await Promise.all(folders.map((folder) => listScripts(folder)))).flat();
const problems = await checkK6Scripts(files);
for (const problem of problems)
  process.stderr.write(`${formatSyntaxProblem(problem, (file) => relative(process.cwd(), file))}\n`);
process.stderr.write(
  problems.length === 0
    ? `k6 syntax: ${files.length} files parse as ES2017 modules\n`
    : `k6 syntax: ${problems.length} problem(s) in ${files.length} files\n`,
);
process.exit(problems.length === 0 ? 0 : 1);
