// Slugs without ICU. The engine inside a componentize-js component
// (SpiderMonkey in StarlingMonkey) is built without ICU: it has no `Intl`,
// no `String.prototype.normalize` and no Unicode property escapes
// (`/\p{L}/u` is a SyntaxError). It does have full Unicode case mapping
// (`toLowerCase`), which this module builds on, plus a folding table for
// the Latin letters with diacritics, ligatures and full-width forms.

/**
 * Lower-case letters and digits that fold to ASCII, grouped by what they
 * fold to. Made with Node (which has ICU) from the lower-case code points
 * of U+00A0–U+024F, U+1E00–U+1EFF, U+2070–U+209F, U+2170–U+217F,
 * U+FB00–U+FB06 and the full-width digits and letters: NFKD, combining
 * marks dropped, kept when the result is ASCII letters and digits; plus the
 * letters that have no decomposition (ß, æ, ø, ł, þ, đ, ...).
 */
const FOLDS = {
  "0": '０⁰₀',
  "1": '¹１₁',
  "2": '²２₂',
  "3": '³３₃',
  "4": '４⁴₄',
  "5": '５⁵₅',
  "6": '６⁶₆',
  "7": '７⁷₇',
  "8": '８⁸₈',
  "9": '９⁹₉',
  a: 'ªàáâãäåāăąǎǟǡǻȁȃȧḁạảấầẩẫậắằẳẵặａₐ',
  ae: 'æ',
  b: 'ƀḃḅḇｂ',
  c: 'çćĉċčƈȼḉｃⅽ',
  d: 'ðďđƌȡḋḍḏḑḓｄⅾ',
  dz: 'ǆǳ',
  e: 'èéêëēĕėęěȅȇȩɇḕḗḙḛḝẹẻẽếềểễệｅₑ',
  f: 'ƒḟｆ',
  ff: 'ﬀ',
  ffi: 'ﬃ',
  ffl: 'ﬄ',
  fi: 'ﬁ',
  fl: 'ﬂ',
  g: 'ĝğġģǥǧǵḡｇ',
  h: 'ĥħȟḣḥḧḩḫẖｈₕ',
  hv: 'ƕ',
  i: 'ìíîïĩīĭįıǐȉȋḭḯỉịｉⁱⅰ',
  ii: 'ⅱ',
  iii: 'ⅲ',
  ij: 'ĳ',
  iv: 'ⅳ',
  ix: 'ⅸ',
  j: 'ĵǰȷɉｊ',
  k: 'ķĸƙǩḱḳḵｋₖ',
  l: 'ĺļľŀłƚȴḷḹḻḽｌₗⅼ',
  lj: 'ǉ',
  m: 'ḿṁṃｍₘⅿ',
  n: 'ñńņňƞǹȵṅṇṉṋｎⁿₙ',
  ng: 'ŋ',
  nj: 'ǌ',
  o: 'ºòóôõöøōŏőơǒǫǭȍȏȫȭȯȱṍṏṑṓọỏốồổỗộớờởỡợｏₒ',
  oe: 'œ',
  oi: 'ƣ',
  ou: 'ȣ',
  p: 'ƥṕṗｐₚ',
  q: 'ɋｑ',
  r: 'ŕŗřȑȓɍṙṛṝṟｒ',
  s: 'śŝşšſșȿṡṣṥṧṩẛｓₛ',
  ss: 'ß',
  st: 'ﬅﬆ',
  t: 'ţťŧƭțȶṫṭṯṱẗｔₜ',
  th: 'þ',
  u: 'ùúûüũūŭůűųưǔǖǘǚǜȕȗṳṵṷṹṻụủứừửữựｕ',
  v: 'ṽṿｖⅴ',
  vi: 'ⅵ',
  vii: 'ⅶ',
  viii: 'ⅷ',
  w: 'ŵẁẃẅẇẉẘｗ',
  x: 'ẋẍｘₓⅹ',
  xi: 'ⅺ',
  xii: 'ⅻ',
  y: 'ýÿŷƴȳɏẏẙỳỵỷỹｙ',
  z: 'źżžƶȥɀẑẓẕｚ',
};

/** @type {Map<string, string>} one code point -> its ASCII folding */
const FOLD = new Map();
for (const [to, from] of Object.entries(FOLDS)) {
  for (const c of from) FOLD.set(c, to);
}
FOLD.set('ǣ', 'ae').set('ǽ', 'ae').set('ǿ', 'o');

/** Combining diacritical marks (the blocks NFD moves accents into). */
const COMBINING = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g;

const HAS_NON_ASCII = /[^\x00-\x7f]/;
const NON_ASCII = /[^\x00-\x7f]/g;

/**
 * Runs of characters that are not letters or digits, once the text is lower
 * case and folded: ASCII other than a-z and 0-9, and the blocks of
 * punctuation, symbols, modifier letters, spaces and emoji. Letters of
 * other scripts (Greek, Cyrillic, Arabic, CJK, ...) are kept as they are.
 * Written without `\p{...}`, which this engine lacks.
 */
const SEPARATORS = new RegExp(
  '[' +
    '\\x00-\\x2f\\x3a-\\x60\\x7b-\\x7f' + // ASCII punctuation, space, controls
    '\\u00a0-\\u00bf\\u00d7\\u00f7' + // Latin-1 punctuation and symbols
    '\\u02b0-\\u036f' + // modifier letters, combining marks
    '\\u0374\\u037e\\u0387\\u055a-\\u055f\\u0589\\u05be\\u05c0\\u05c3\\u05f3\\u05f4' +
    '\\u060c\\u061b\\u061f\\u066a-\\u066d\\u06d4\\u0964\\u0965\\u0e4f\\u0e5a\\u0e5b' +
    '\\u2000-\\u2bff' + // general punctuation ... arrows, math, shapes, dingbats
    '\\u2e00-\\u2e7f\\u3000-\\u3004\\u3008-\\u3020\\u3030\\u303d' + // CJK punctuation
    '\\ufe10-\\ufe1f\\ufe30-\\ufe6f\\ufeff' +
    '\\uff00-\\uff0f\\uff1a-\\uff20\\uff3b-\\uff40\\uff5b-\\uff65\\ufff0-\\uffff' + // full-width punctuation
    '\\u{1f000}-\\u{1faff}' + // emoji and pictographs
    ']+',
  'gu',
);
const EDGE_DASHES = /^-+|-+$/g;

function fold(c) {
  return FOLD.get(c) ?? c;
}

/**
 * The slug of `text`: lower case, Latin diacritics dropped, each run of
 * characters other than letters and digits turned into one `-`, no `-` at
 * either end. `slugify('Héllo, Wörld!') === 'hello-world'`.
 *
 * Regular expressions rather than a loop over characters: the engine runs
 * as an interpreter in the sandbox, where each JavaScript step is dear.
 *
 * @param {string} text
 */
export function slugify(text) {
  let s = text.toLowerCase();
  if (HAS_NON_ASCII.test(s)) s = s.replace(NON_ASCII, fold).replace(COMBINING, '');
  return s.replace(SEPARATORS, '-').replace(EDGE_DASHES, '');
}
