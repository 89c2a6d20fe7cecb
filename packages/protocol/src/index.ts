export * from './layout.js';
export * from './errors.js';
export * from './atomic-memory.js';
export * from './keys.js';
export * from './pages.js';
export * from './values.js';
export * from './context.js';
export { renderLayoutHeader, REGENERATE_COMMAND } from './c-header.js';
