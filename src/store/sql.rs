//! A small builder for parameterized SQL that writes each backend's placeholder
//! (`$1` on PostgreSQL, `?` elsewhere). Values are always bound, never spliced into the text.

use sea_orm::sea_query::extension::postgres::PgFunc;
use sea_orm::sea_query::{ArrayType, Expr, IntoColumnRef, SimpleExpr};
use sea_orm::{DatabaseBackend, Statement, Value};

/// The most ids one MySQL statement binds (`in_list`, `id_in`), well under its 65,535
/// placeholders.
pub const MYSQL_MAX_LIST: usize = 10_000;

/// `column IN <ids>` for an entity query's `.filter(...)`, with the ids bound as one value
/// where the backend can take a list as one value, exactly as `Sql::in_list` writes it:
/// `= ANY($n)` with an array on PostgreSQL, `IN (SELECT value FROM json_each(?))` with a JSON
/// array on SQLite; `IN (?, ?, ...)` on MySQL. The one value keeps the statement text the same
/// whatever the number of ids, so the backend prepares and plans it once per connection
/// instead of once per list length. `ids` must not be empty; on MySQL it must stay under its
/// 65,535 placeholders (`MYSQL_MAX_LIST`).
pub fn id_in(backend: DatabaseBackend, column: impl IntoColumnRef, ids: &[i64]) -> SimpleExpr {
    match backend {
        DatabaseBackend::Postgres => Expr::col(column).eq(PgFunc::any(Expr::val(id_array(ids)))),
        DatabaseBackend::Sqlite => Expr::cust_with_exprs(
            "? IN (SELECT value FROM json_each(?))",
            [Expr::col(column).into(), Expr::val(id_json(ids)).into()],
        ),
        _ => Expr::col(column).is_in(ids.iter().copied()),
    }
}

/// The ids as one PostgreSQL `BIGINT[]` value.
fn id_array(ids: &[i64]) -> Value {
    let values = ids.iter().map(|id| Value::BigInt(Some(*id))).collect();
    Value::Array(ArrayType::BigInt, Some(Box::new(values)))
}

/// The ids as one JSON array text, for SQLite's `json_each`.
fn id_json(ids: &[i64]) -> String {
    format!(
        "[{}]",
        ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
    )
}

pub struct Sql {
    backend: DatabaseBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub fn new(backend: DatabaseBackend) -> Sql {
        Sql {
            backend,
            text: String::with_capacity(512),
            values: Vec::new(),
        }
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.backend
    }

    /// Appends literal SQL text (never user input).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        match self.backend {
            DatabaseBackend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.values.len().to_string());
            }
            _ => self.text.push('?'),
        }
        self
    }

    /// Appends ` IN <ids>` with the ids bound as one value where the backend can take a list
    /// as one value: `= ANY($n)` with an array on PostgreSQL, `IN (SELECT value FROM
    /// json_each(?))` with a JSON array on SQLite; `IN (?, ?, ...)` on MySQL. One value keeps
    /// the statement text the same whatever the number of ids, so each backend prepares and
    /// plans it once per connection instead of once per list length. `ids` must not be empty
    /// (`IN ()` is not SQL); on MySQL it must stay under its 65,535 placeholders
    /// (`MYSQL_MAX_LIST`).
    pub fn in_list(&mut self, ids: &[i64]) -> &mut Self {
        match self.backend {
            DatabaseBackend::Postgres => self.push(" = ANY(").bind(id_array(ids)).push(")"),
            DatabaseBackend::Sqlite => self
                .push(" IN (SELECT value FROM json_each(")
                .bind(id_json(ids))
                .push("))"),
            _ => {
                self.push(" IN (");
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.bind(*id);
                }
                self.push(")")
            }
        }
    }

    pub fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{EntityTrait, QueryFilter, QueryTrait};

    use super::*;
    use crate::entity::user;

    fn users_by_ids(backend: DatabaseBackend, ids: &[i64]) -> Statement {
        user::Entity::find()
            .filter(id_in(backend, (user::Entity, user::Column::Id), ids))
            .build(backend)
    }

    #[test]
    fn id_in_binds_the_ids_as_one_value_where_it_can() {
        for backend in [DatabaseBackend::Postgres, DatabaseBackend::Sqlite] {
            let one = users_by_ids(backend, &[1]);
            let three = users_by_ids(backend, &[1, 2, 3]);
            assert_eq!(one.sql, three.sql, "{backend:?}");
            assert_eq!(three.values.map(|v| v.0.len()), Some(1), "{backend:?}");
        }
        let sqlite = users_by_ids(DatabaseBackend::Sqlite, &[1, 2]);
        assert!(sqlite
            .sql
            .ends_with(r#"WHERE "users"."id" IN (SELECT value FROM json_each(?))"#));
        let pg = users_by_ids(DatabaseBackend::Postgres, &[1, 2]);
        assert!(pg.sql.ends_with(r#"WHERE "users"."id" = ANY($1)"#));
        let mysql = users_by_ids(DatabaseBackend::MySql, &[1, 2]);
        assert!(mysql.sql.ends_with("WHERE `users`.`id` IN (?, ?)"));
    }
}
