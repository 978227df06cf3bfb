// The public API of the wasmudf JavaScript guest SDK:
//
//   import { scalar, aggregate, window, table } from 'wasmudf-guest';
//
// Call these at the top level of your module; `wasmudf-guest build` turns
// the module into a wasmudf component exporting what they registered.
export { scalar, aggregate, window, table } from './core.js';
