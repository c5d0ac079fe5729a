import { describe, expect, it } from 'vitest';
import { requiredTool } from './faults-helpers.js';

/** The switch between "skip on a laptop" and "fail in CI" for the fault tests' system tools. */
describe('requiredTool', () => {
  it.each([
    { works: true, env: {}, skip: false, throws: false },
    { works: true, env: { VIGIL_REQUIRE_INTEGRATION: '1' }, skip: false, throws: false },
    { works: false, env: {}, skip: true, throws: true },
    { works: false, env: { VIGIL_REQUIRE_INTEGRATION: '1' }, skip: false, throws: true },
    { works: false, env: { VIGIL_REQUIRE_INTEGRATION: '0' }, skip: true, throws: true },
  ])('works=$works env=$env: skip=$skip', ({ works, env, skip, throws }) => {
    const tool = requiredTool('chattr +i', works, env);
    expect(tool.skip).toBe(skip);
    if (throws) expect(tool.assert).toThrow('chattr +i is required (VIGIL_REQUIRE_INTEGRATION=1)');
    else expect(tool.assert).not.toThrow();
  });
});
