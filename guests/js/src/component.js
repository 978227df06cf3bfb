// The export componentize-js binds to the `wasmudf:udf/guest` interface.
// `wasmudf-guest build` appends `export { guest } from
// 'wasmudf-guest/component'` to the bundle after the user's module, so the
// functions it registers are all in the default registry by then.
import { defaultRegistry, makeGuest } from './core.js';

export const guest = makeGuest(defaultRegistry);
