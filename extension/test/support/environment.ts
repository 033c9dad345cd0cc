/**
 * What the integration and end-to-end tests get from the harness that started the real servers
 * (Conductor.Tests/Extension/ExtensionTests.cs): a missing variable is a failure with the reason, never a skip.
 */
export function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set. These tests run against a real Conductor Api started by ` +
      'Conductor.Tests/Extension (./test.sh runs them); they cannot run on their own.');
  }
  return value;
}

export function uniqueLogin(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}
