//! Small schema builders shared by the hand-built parts of the document (a sibling module, so
//! the parts import it and not each other).

use serde_json::{json, Value};
use utoipa::openapi::schema::{AdditionalProperties, SchemaType};
use utoipa::openapi::{
    ContentBuilder, KnownFormat, ObjectBuilder, Ref, RefOr, Schema, SchemaFormat, Type,
};

/// The media type of every body the routes answer with, and of the document itself.
pub const JSON: &str = "application/json";

/// A closed object: exactly these keys, all required, no others.
pub fn closed_object(properties: Vec<(&'static str, RefOr<Schema>)>) -> ObjectBuilder {
    let mut object = ObjectBuilder::new().schema_type(Type::Object);
    for (name, schema) in properties {
        object = object.property(name, schema).required(name);
    }
    object.additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
}

/// `connection_status`: one of the three statuses, or null.
pub fn status_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some([
            json!("connected"),
            json!("sent_connection_request"),
            json!("received_connection_request"),
            Value::Null,
        ]))
}

pub fn json_content(schema: &str) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(schema)))
        .build()
}

pub fn integer() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
}

pub fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

pub fn boolean() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Boolean)
}

pub fn date_time() -> ObjectBuilder {
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .description(Some("RFC 3339, UTC, whole seconds, `Z`."))
}

pub fn nullable(kind: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([kind, Type::Null]))
}
