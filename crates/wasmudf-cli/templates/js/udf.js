import { scalar } from 'wasmudf-guest';

// `{{ident}}_hello(name TEXT) -> TEXT`.
scalar('{{ident}}_hello', (name) => `hello, ${name}`, { deterministic: true });
