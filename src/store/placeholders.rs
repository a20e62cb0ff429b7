//! The placeholders of statements built for many values (the intake's batch, look-ups of
//! many keys).

use super::Conn;

/// Placeholders for a list of `n` values numbered from `$first`: `$1, $2, $3`.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Placeholders for a list of `n` values that come after `first - 1` others, in a statement on
/// `conn` whose values are all bound in the order they appear in its text: numbered on
/// PostgreSQL (`$2, $3`), unnumbered on SQLite (`?, ?`).
///
/// Why not numbered on SQLite as well: sqlx asks SQLite for the name of each value as it binds
/// it, and SQLite finds a name by walking the statement's list of names. For the hundred cases
/// a statement of the intake (2,200 values) that is millions of steps, most of the time the
/// statement took. Unnumbered values have no names and are bound in order.
pub(super) fn placeholders_on(conn: &Conn, first: usize, n: usize) -> String {
    match conn.backend_name() {
        "SQLite" => vec!["?"; n].join(", "),
        _ => placeholders(first, n),
    }
}

/// Placeholders for `rows` rows of `columns` values each, bound in order (see
/// [`placeholders_on`]): `($1, $2), ($3, $4)` on PostgreSQL, `(?, ?), (?, ?)` on SQLite.
pub(super) fn value_rows(conn: &Conn, rows: usize, columns: usize) -> String {
    (0..rows).map(|r| format!("({})", placeholders_on(conn, 1 + r * columns, columns))).collect::<Vec<_>>().join(", ")
}
