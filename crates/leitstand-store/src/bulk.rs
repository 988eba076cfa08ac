//! Multi-row writes shared by the repositories: how many rows one statement
//! carries on each engine, and PostgreSQL's one-array-per-column `UNNEST`
//! inserts.

/// Bind parameters one SQLite statement may carry (`SQLITE_MAX_VARIABLE_NUMBER`).
const SQLITE_MAX_BINDS: usize = 32_766;
/// Most rows per SQLite bulk statement: enough that the hand-over per
/// statement does not count, few enough that compiling one stays small —
/// SQLite allocates with the C allocator on each connection's thread, and
/// every thread's arena kept the high-water mark of the largest statement.
const SQLITE_ROWS_PER_STATEMENT: usize = 256;

/// Rows per SQLite bulk statement of `columns` bound values each.
pub(crate) fn sqlite_rows_per_statement(columns: usize) -> usize {
    (SQLITE_MAX_BINDS / columns.max(1)).min(SQLITE_ROWS_PER_STATEMENT)
}
/// Number of columns in a comma-separated column list.
pub(crate) fn column_count(columns: &str) -> usize {
    columns.split(',').count()
}

/// Rows per PostgreSQL bulk statement: one array per column, so the bind
/// limit does not apply; the cap only bounds the size of one message.
pub(crate) const POSTGRES_ROWS_PER_STATEMENT: usize = 10_000;

/// PostgreSQL's `INSERT … SELECT * FROM UNNEST($1::type[], …)` into `table`,
/// one array parameter per column.
pub(crate) fn unnest_insert(table: &str, columns: &str, types: &[&str]) -> String {
    debug_assert_eq!(column_count(columns), types.len(), "a type for every column of {table}");
    let arrays: Vec<String> = types.iter().enumerate().map(|(i, ty)| format!("${}::{ty}[]", i + 1)).collect();
    format!("INSERT INTO {table} ({columns}) SELECT * FROM UNNEST({})", arrays.join(", "))
}

/// One column of `rows` as an array parameter.
pub(crate) fn column<'a, T, U>(rows: &'a [T], value: impl Fn(&'a T) -> U) -> Vec<U> {
    rows.iter().map(value).collect()
}
