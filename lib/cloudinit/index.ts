export * from './render.js';
export * from './escape.js';
export * from './validate.js';
export * from './userdata.js';
export * from './allowlist.js';
export * from './markers.js';
