import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openStore } from '../../../src/store/open.js';
import { describeStoreContract } from '../../store/contract.js';

/* The store port's contract on SQLite: in memory, and on a file in WAL mode (a temporary folder). */

describeStoreContract('sqlite', () => openStore({ path: ':memory:' }));

const dir = mkdtempSync(join(tmpdir(), 'vigil-contract-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
describeStoreContract('sqlite-file', () => openStore({ path: join(dir, `store-${++files}.db`) }));
