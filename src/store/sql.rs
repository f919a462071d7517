//! A small builder for parameterized SQL that writes each backend's placeholder
//! (`$1` on PostgreSQL, `?` elsewhere). Values are always bound, never spliced into the text.

use sea_orm::{DatabaseBackend, Statement, Value};

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

    /// Appends `(?, ?, ...)` bound to `ids`.
    pub fn bind_list(&mut self, ids: &[i64]) -> &mut Self {
        self.text.push('(');
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(*id);
        }
        self.text.push(')');
        self
    }

    pub fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}
