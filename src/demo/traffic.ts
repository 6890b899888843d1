// The traffic generator is an adapter (it does network IO and `bgctl verify` uses it too); the demo,
// the bench and the integration tests keep importing it from here.
export * from '../adapters/load.js';
