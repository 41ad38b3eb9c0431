export { jumpHash } from './jump-hash.js';
export { createJumpRouter, type Router } from './router.js';
