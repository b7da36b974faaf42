// Package cleantext makes text typed by one person safe to show to another:
// shopper names, guide names, notes, payment-link descriptions.
//
// # What it owns
//
// One rule for every such field, so a name cleaned at join and a name
// cleaned at `guide add` look the same:
//
//   - Refused (ErrNUL, ErrInvalid): U+0000 anywhere, and bytes that are not
//     UTF-8. PostgreSQL cannot store a NUL in text, and a NUL or broken
//     UTF-8 in a name is never typed by a person.
//   - Stripped: the other C0 and C1 control characters (a tab or newline
//     of a multi-line Text stays), the bidi embeddings, overrides,
//     isolates and marks (U+061C, U+200E, U+200F, U+202A-U+202E,
//     U+2066-U+2069), and the zero-width characters (U+200B-U+200D,
//     U+2060, U+FEFF). They are invisible, so nobody loses what they meant
//     to write, and they are how a name impersonates another or reverses
//     the text around it. Emoji joined with U+200D show as their parts.
//   - Normalized: Unicode NFC, so one name has one spelling; then
//     surrounding white space trimmed.
//   - Bounded: a maximum length in runes, counted after cleaning.
//
// # What it does not own
//
// Which fields are cleaned, and whether an empty result is allowed: the
// domain that owns the field decides, and escapes on output are the
// frontend's.
package cleantext
