//! A small builder for parameterized SQL that writes each backend's placeholder
//! (`$1` on PostgreSQL, `?` elsewhere). Values are always bound, never spliced into the text.

use sea_orm::sea_query::ArrayType;
use sea_orm::{DatabaseBackend, Statement, Value};

/// The most ids one MySQL statement binds (`in_list`), well under its 65,535 placeholders.
pub const MYSQL_MAX_LIST: usize = 10_000;

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
            DatabaseBackend::Postgres => {
                let values = ids.iter().map(|id| Value::BigInt(Some(*id))).collect();
                self.push(" = ANY(")
                    .bind(Value::Array(ArrayType::BigInt, Some(Box::new(values))))
                    .push(")")
            }
            DatabaseBackend::Sqlite => {
                let json = format!(
                    "[{}]",
                    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
                );
                self.push(" IN (SELECT value FROM json_each(")
                    .bind(json)
                    .push("))")
            }
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
