//! Listings filtered at run time: a `WHERE` clause assembled from the
//! tenant scope and the caller's filters, with its values bound in order.

use uuid::Uuid;

use crate::tenant_filter;

/// A bind value of a query assembled at run time.
pub(super) enum Bind<'a> {
    Uuid(Uuid),
    Text(&'a str),
    Int(i64),
}

/// A `WHERE` clause built from [`tenant_filter`] and further conditions,
/// with the values to bind in placeholder order.
#[derive(Default)]
pub(super) struct Conditions<'a> {
    pub(super) sql: String,
    pub(super) binds: Vec<Bind<'a>>,
}

impl<'a> Conditions<'a> {
    /// Starts with the tenant scope on `column` (see [`tenant_filter`]).
    pub(super) fn scoped(column: &str, tenants: Option<&[Uuid]>) -> Self {
        let sql = tenant_filter(column, tenants, 1);
        let binds = tenants.unwrap_or_default().iter().map(|id| Bind::Uuid(*id)).collect();
        Self { sql, binds }
    }

    /// Adds `clause`, its `?` marks bound to `values` in order.
    pub(super) fn and(&mut self, clause: &str, values: impl IntoIterator<Item = Bind<'a>>) {
        self.sql.push_str(if self.sql.is_empty() { "WHERE " } else { " AND " });
        let mut values = values.into_iter();
        for (i, part) in clause.split('?').enumerate() {
            if i > 0 {
                let value = values.next();
                debug_assert!(value.is_some(), "a value for every `?` in {clause:?}");
                self.binds.extend(value);
                self.sql.push_str(&format!("${}", self.binds.len()));
            }
            self.sql.push_str(part);
        }
    }
}

/// Runs `$sql` with `$binds` (a `Vec<Bind>`) and fetches all rows as `$row`.
macro_rules! fetch_all_bound {
    ($store:expr, $row:ty, $sql:expr, $binds:expr) => {
        on_pool!($store, |pool| {
            let mut query = sqlx::query_as::<_, $row>(sqlx::AssertSqlSafe($sql.clone()));
            for bind in $binds {
                query = match bind {
                    Bind::Uuid(v) => query.bind(*v),
                    Bind::Text(v) => query.bind(*v),
                    Bind::Int(v) => query.bind(*v),
                };
            }
            query.fetch_all(pool).await?
        })
    };
}

pub(super) use fetch_all_bound;
