/**
 * The assertion's attribute names (DESIGN.md, "Assertion contents"), as policy may
 * name them in `releaseAttributes`. Kept here so the policy folder does not reach
 * into saml/ at configuration time; lib/saml/agent-attributes.ts uses the same names.
 */
export const AGENT_ATTRIBUTE_NAMES: readonly string[] = [
  'AI-Agent-ID',
  'Task-ID',
  'Agent-Scope',
  'Sensitivity-Tier',
  'Model-Hash',
  'Source-Commit',
  'Training-Data-Version',
  'Compute-Zone',
];
